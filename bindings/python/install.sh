#!/usr/bin/env bash
# Makes the project-local venv (.tools/py-venv, or $AIGW_PY_VENV) hold the test tools and the
# `aigw` package built from this tree with `pip install ./bindings/python`. Idempotent: the
# package is rebuilt only when a source it is built from changed (a hash is kept in the venv).
#   bindings/python/install.sh [--profile dev|release] [--test-tools]
# dev (the default) builds quicker; --test-tools also installs maturin, pytest, pytest-timeout
# and mypy.
# Progress goes to stderr; nothing to stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PROFILE=dev
TEST_TOOLS=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs dev or release}; shift 2 ;;
    --test-tools) TEST_TOOLS=true; shift ;;
    *) echo "usage: $0 [--profile dev|release] [--test-tools]" >&2; exit 2 ;;
  esac
done
VENV=${AIGW_PY_VENV:-$ROOT/.tools/py-venv}
PYTHON=${PYTHON:-python3}
say() { echo "[python-env] $*" >&2; }

if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { say "$PYTHON is older than 3.10"; exit 1; }
  say "creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if $TEST_TOOLS && { ! "$VENV/bin/python" -c 'import pytest, pytest_timeout, mypy' 2>/dev/null \
  || ! "$VENV/bin/maturin" --version >/dev/null 2>&1; }; then
  say "installing maturin, pytest, pytest-timeout, mypy"
  "${PIP[@]}" install --quiet 'maturin>=1.9.4,<2' 'pytest>=8' 'pytest-timeout>=2.3' 'mypy>=1.10' >&2
fi

# Everything the wheel is built from (core/data holds the compiled-in provider table).
SOURCES_HASH=$(
  find Cargo.toml Cargo.lock core/Cargo.toml core/src core/data \
    bindings/python/Cargo.toml bindings/python/pyproject.toml bindings/python/README.md \
    bindings/python/src \
    bindings/python/python -type f ! -path '*/__pycache__/*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
)
STAMP=$VENV/.aigw-sources
if [[ -f $STAMP && "$(cat "$STAMP")" == "$SOURCES_HASH" ]] \
  && "$VENV/bin/python" -c 'import aigw' 2>/dev/null; then
  say "aigw is up to date in $VENV"
  exit 0
fi
say "building and installing aigw ($PROFILE profile): pip install ./bindings/python"
rm -f "$STAMP"
MATURIN_PEP517_ARGS="--profile $PROFILE" \
  "${PIP[@]}" install --quiet --force-reinstall --no-deps ./bindings/python >&2
echo "$SOURCES_HASH" > "$STAMP"
