#!/usr/bin/env bash
# Soak: 16 threads x 20 000 requests through one client with 1-in-20 faults; bounded
# to 5 minutes by the program's own watchdog. Debug build: it reuses what `make test` built.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p aigw-mock -p aigw-core --example soak
# Two malloc arenas instead of glibc's one per thread: with 16 threads, how much memory the
# per-thread arenas happen to hold swings RSS by several percent run to run, which would hide
# (or fake) the growth this checks. The program also trims free heap before each reading.
MALLOC_ARENA_MAX=2 timeout 330 ./target/debug/examples/soak ./target/debug/aigw-mock-gateway "${SOAK_REQUESTS:-20000}" "${SOAK_THREADS:-16}"
