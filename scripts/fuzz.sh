#!/usr/bin/env bash
# Bounded fuzzing of aigw-core on stable Rust (issue 9): builds the in-tree fuzzer (profile `fuzz`: optimized, overflow checks on)
# and runs every target (sse, config, secret_ref, envelope) for FUZZ_SECONDS each (default 20,
# so about 80 s in all). Exits non-zero on any finding; findings are saved, minimized, under
# fuzz/crashes/<target>/ and replay with
#   target/fuzz/aigw-fuzz --target <target> --replay fuzz/crashes/<target>/<file>
# Keep a fixed finding as a regression test by moving its file to fuzz/regressions/<target>/.
# Extra arguments go to aigw-fuzz (e.g. --seed 42, --target sse, --ignore-property NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile fuzz -p aigw-fuzz
exec target/fuzz/aigw-fuzz --target all --seconds "${FUZZ_SECONDS:-20}" "$@"
