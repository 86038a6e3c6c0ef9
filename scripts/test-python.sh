#!/usr/bin/env bash
# The Python suite (`make test-python`): a project-local venv with maturin, pytest,
# pytest-timeout and mypy; the package installed with `pip install ./bindings/python` (dev
# profile); the mock gateway binary; then pytest (warnings are errors, every test has a timeout).
# Extra arguments go to pytest. A second run skips whatever is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${AIGW_PY_VENV:-$ROOT/.tools/py-venv}
export AIGW_PY_VENV=$VENV
SECONDS=0

bindings/python/install.sh --profile dev --test-tools
echo "[test-python] environment ready after ${SECONDS}s" >&2
cargo build --quiet -p aigw-mock
echo "[test-python] mock gateway built after ${SECONDS}s" >&2

cd bindings/python
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
echo "[test-python] done after ${SECONDS}s" >&2
if [[ $status -eq 5 ]]; then
  echo "[test-python] pytest collected no tests" >&2
fi
exit "$status"
