#!/usr/bin/env bash
# The Python example of the demo: makes sure the project-local venv has the `aigw` package built
# from this tree (release profile when it has to build), then runs chat.py against the config in
# $AIGW_DEMO_CONFIG.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${AIGW_PY_VENV:-$ROOT/.tools/py-venv}
export AIGW_PY_VENV=$VENV
bindings/python/install.sh --profile release
exec "$VENV/bin/python" examples/python/chat.py "$@"
