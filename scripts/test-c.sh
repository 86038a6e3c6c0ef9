#!/usr/bin/env bash
# The C suite under valgrind (part of `make test`): builds libaigw and the mock gateway (debug),
# installs valgrind if it is missing, compiles the programs of tests/c/ with
# -Wall -Wextra -Werror -pedantic, starts the mock gateway on 127.0.0.1, and runs every program
# under valgrind. Fails on any valgrind error or any definitely/indirectly lost bytes.
# When gcc's AddressSanitizer is available, the programs also run once built with
# -fsanitize=address,undefined (faster than valgrind, so the thread test does more requests).
# (`cargo test -p aigw-ffi` runs the same programs without valgrind, at full iteration counts.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/c-tests
LIB_DIR=$ROOT/target/debug
CC=${CC:-cc}
CXX=${CXX:-c++}
# Valgrind runs the code ~30x slower: the thread test does 8 x THREAD_ITERATIONS requests here.
THREAD_ITERATIONS=${AIGW_VALGRIND_THREAD_ITERATIONS:-10}

echo "== test-c: building libaigw and the mock gateway (debug)"
cargo build -p aigw-ffi -p aigw-mock

if ! command -v valgrind > /dev/null 2>&1; then
  echo "== test-c: installing valgrind"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update && apt-get install -y valgrind
  else
    sudo apt-get update && sudo apt-get install -y valgrind
  fi
fi

rm -rf "$OUT"
mkdir -p "$OUT"
FLAGS=(-Wall -Wextra -Werror -pedantic -g -I "$ROOT/include")
LINK=(-L "$LIB_DIR" "-Wl,-rpath,$LIB_DIR" -laigw -lpthread)

PROGRAMS=()
for source in tests/c/test_*.c; do
  name=$(basename "$source" .c)
  "$CC" -std=c11 "${FLAGS[@]}" tests/c/support.c "$source" -o "$OUT/$name" "${LINK[@]}"
  PROGRAMS+=("$name")
done
for source in tests/c/*.cpp; do
  name=$(basename "$source" .cpp)
  "$CXX" -std=c++17 "${FLAGS[@]}" "$source" -o "$OUT/$name" "${LINK[@]}"
  PROGRAMS+=("$name")
done

"$ROOT/target/debug/aigw-mock-gateway" --api-key test-key --lifetime-secs 1800 \
  --port-file "$OUT/port" > /dev/null &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2> /dev/null || true' EXIT
for _ in $(seq 1 200); do
  [[ -s "$OUT/port" ]] && break
  sleep 0.05
done
if [[ ! -s "$OUT/port" ]]; then
  echo "test-c: the mock gateway did not start" >&2
  exit 1
fi
PORT=$(cat "$OUT/port")
echo "== test-c: mock gateway on 127.0.0.1:$PORT"

# Credentials come only from what each program sets up.
unset CLOUDFLARE_API_KEY CLOUDFLARE_AI_GATEWAY_API_KEY AIGW_LOG

passed=0
failed=0
for name in "${PROGRAMS[@]}"; do
  iterations=1
  [[ $name == test_threads ]] && iterations=$THREAD_ITERATIONS
  log=$OUT/$name.valgrind.log
  started=$SECONDS
  status=0
  valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --log-file="$log" \
    "$OUT/$name" "$PORT" "$ROOT/tests/vectors" "$iterations" > "$OUT/$name.out" 2>&1 || status=$?
  # Belt and braces: the leak summary itself must show nothing lost for sure.
  if grep -Eq "(definitely|indirectly) lost: [1-9]" "$log"; then
    status=1
  fi
  if [[ $status -eq 0 ]]; then
    passed=$((passed + 1))
    echo "ok   $name under valgrind ($((SECONDS - started)) s): $(tail -n 1 "$OUT/$name.out")"
  else
    failed=$((failed + 1))
    echo "FAIL $name under valgrind (exit $status)"
    cat "$OUT/$name.out"
    grep -E "^==[0-9]+== " "$log" | tail -n 60
  fi
done

# AddressSanitizer + UndefinedBehaviorSanitizer on the C side (libaigw itself is not
# instrumented, but its allocations go through ASan's malloc, so leaks still show).
SANITIZE=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
if echo 'int main(void){return 0;}' | "$CC" "${SANITIZE[@]}" -x c - -o "$OUT/asan-probe" 2> /dev/null \
    && "$OUT/asan-probe" 2> /dev/null; then
  mkdir -p "$OUT/asan"
  for name in "${PROGRAMS[@]}"; do
    if [[ -f tests/c/$name.c ]]; then
      "$CC" -std=c11 "${FLAGS[@]}" "${SANITIZE[@]}" tests/c/support.c "tests/c/$name.c" \
        -o "$OUT/asan/$name" "${LINK[@]}"
    else
      "$CXX" -std=c++17 "${FLAGS[@]}" "${SANITIZE[@]}" "tests/c/$name.cpp" -o "$OUT/asan/$name" \
        "${LINK[@]}"
    fi
    iterations=1
    [[ $name == test_threads ]] && iterations=50
    status=0
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
      "$OUT/asan/$name" "$PORT" "$ROOT/tests/vectors" "$iterations" > "$OUT/asan/$name.out" 2>&1 \
      || status=$?
    if [[ $status -eq 0 ]]; then
      passed=$((passed + 1))
      echo "ok   $name with ASan+UBSan: $(tail -n 1 "$OUT/asan/$name.out")"
    else
      failed=$((failed + 1))
      echo "FAIL $name with ASan+UBSan (exit $status)"
      tail -n 80 "$OUT/asan/$name.out"
    fi
  done
else
  echo "== test-c: AddressSanitizer is not available here; skipped the ASan pass"
fi

echo "test-c: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
