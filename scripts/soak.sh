#!/usr/bin/env bash
# Soak (issue 9): 16 threads x 20 000 requests through one client with 1-in-20 faults; bounded
# to 5 minutes by the program's own watchdog. Debug build: it reuses what `make test` built.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p aigw-mock -p aigw-core --example soak
timeout 330 ./target/debug/examples/soak ./target/debug/aigw-mock-gateway "${SOAK_REQUESTS:-20000}" "${SOAK_THREADS:-16}"
