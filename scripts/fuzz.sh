#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of aigw-core with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [TARGET...] [-- LIBFUZZER_FLAG...]
#
# Runs each target (default: sse config secret_ref envelope eventstream anthropic_stream) for FUZZ_SECONDS (default 20),
# starting from a scratch copy of fuzz/corpus/<target>/ and fuzz/regressions/<target>/ (the
# tracked folders are never written) with the dictionary fuzz/dict/<target>.dict. The targets
# are in fuzz/fuzz_targets/; the properties they check are the `aigw-fuzz` library in fuzz/src/,
# which `make test` also runs over the seed corpus and the kept findings on stable Rust.
#
# Needs the nightly toolchain (libFuzzer's instrumentation is nightly-only); without it, says so
# and exits 0. Installs cargo-fuzz into .tools/cargo-fuzz/ when it is missing.
#
# Exits 1 when a target panics, breaks a property, times out or runs out of memory; the input
# is saved under fuzz/artifacts/<target>/ (git-ignored) with the log, and replays with
#   target/cargo-fuzz/<host>/release/<target> <file>
# (or `cargo +nightly fuzz run --fuzz-dir fuzz/fuzz_targets -s none <target> <file>`).
# Once core is fixed, keep the input as a regression test by moving it to
# fuzz/regressions/<target>/ (replayed by `cargo test -p aigw-fuzz`).
#
# Environment:
#   FUZZ_SECONDS      seconds per target (default 20)
#   FUZZ_SANITIZER    none (default: aigw-core has no unsafe code, and this is 4-5x faster) or
#                     address (AddressSanitizer, for unsafe code in dependencies)
#   FUZZ_TARGET_DIR   the nightly build's target directory (default target/cargo-fuzz)
#   AIGW_FUZZ_IGNORE  comma-separated property names to pass over (known open findings)
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(sse config secret_ref envelope eventstream anthropic_stream)
CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-20}
sanitizer=${FUZZ_SANITIZER:-none}
target_dir=${FUZZ_TARGET_DIR:-target/cargo-fuzz}

targets=()
extra=()
while (($#)); do
    if [[ $1 == -- ]]; then
        shift
        extra=("$@")
        break
    fi
    if [[ ! -f fuzz/fuzz_targets/$1.rs ]]; then
        echo "fuzz: unknown target '$1' (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
    targets+=("$1")
    shift
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

if ! command -v rustup >/dev/null 2>&1; then
    echo "fuzz: SKIPPED coverage-guided fuzzing: rustup is not installed, so there is no nightly"
    echo "      toolchain for cargo-fuzz/libFuzzer. The seed corpus and kept findings were still"
    echo "      replayed on stable by 'make test' (fuzz/tests/regressions.rs)."
    exit 0
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz: SKIPPED coverage-guided fuzzing: no nightly toolchain ('rustup toolchain list'"
    echo "      shows none), and cargo-fuzz/libFuzzer need nightly. Install one with"
    echo "      'rustup toolchain install nightly'. The seed corpus and kept findings were still"
    echo "      replayed on stable by 'make test' (fuzz/tests/regressions.rs)."
    exit 0
fi

tools=$PWD/.tools/cargo-fuzz
if [[ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo-fuzz"
    start=$SECONDS
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$tools"
    echo "fuzz: cargo-fuzz installed in $((SECONDS - start)) s"
fi
export PATH="$tools/bin:$PATH"

echo "fuzz: building the fuzz targets (nightly, sanitizer $sanitizer, debug assertions and overflow checks on)"
start=$SECONDS
cargo +nightly fuzz build --fuzz-dir fuzz/fuzz_targets --target-dir "$target_dir" -s "$sanitizer"
echo "fuzz: fuzz targets built in $((SECONDS - start)) s"
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$host/release
if [[ $sanitizer == address ]]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/aigw-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

failed=()
summary=()
for t in "${targets[@]}"; do
    corpus=$work/corpus/$t
    artifacts=fuzz/artifacts/$t
    log=$work/$t.log
    mkdir -p "$corpus" "$artifacts"
    cp fuzz/corpus/"$t"/* "$corpus"/
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then cp fuzz/regressions/"$t"/* "$corpus"/; fi
    seeds=$(find "$corpus" -type f | wc -l)
    echo "fuzz: $t for $seconds s from $seeds seeds"
    status=0
    "$bin_dir/$t" "$corpus" \
        -max_total_time="$seconds" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
        -dict="fuzz/dict/$t.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
        ${extra[@]+"${extra[@]}"} >"$log" 2>&1 || status=$?
    execs=$(stat number_of_executed_units "$log")
    rate=$(stat average_exec_per_sec "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corpus_size=$(find "$corpus" -type f | wc -l)
    summary+=("$(printf '%-11s %10s %8s %6s %7s' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "$seeds->$corpus_size")")
    if ((status != 0)); then
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        cp "$log" "$artifacts/fuzz.log"
        echo "fuzz: FINDING in $t (libFuzzer exit status $status):" >&2
        {
            grep -m 1 -A 2 'panicked at' "$log" || true
            sed -n '/ERROR: /,/Test unit written/p' "$log" | head -n 30
        } | sed 's/^/    /' >&2
        if [[ -n $crash ]]; then
            echo "fuzz: FINDING input: $crash" >&2
            echo "fuzz: replay with: $bin_dir/$t $crash" >&2
        fi
        echo "fuzz: full log: $artifacts/fuzz.log" >&2
        failed+=("$t${crash:+ ($crash)}")
    fi
    rmdir "$artifacts" 2>/dev/null || true
done

rmdir fuzz/artifacts 2>/dev/null || true

echo
printf '%-11s %10s %8s %6s %7s\n' target execs execs/s cov corpus
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: findings in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no findings (${#targets[@]} targets x $seconds s, sanitizer $sanitizer)"
