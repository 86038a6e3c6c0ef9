#!/usr/bin/env bash
# The release artefacts as a user gets them (`make test-dist`, part of `make test`): runs
# scripts/dist.sh (one release build), then, in a temporary folder outside the repository, with a
# PATH holding only the user's tools (python3, node, npm, cc, pkg-config, a shell; no cargo, no
# rustc), HOME and the npm cache fresh, and no PYTHONPATH/NODE_PATH:
#   Python  a fresh venv, `pip install --no-index <wheel>`, one chat   (+ `auditwheel show`)
#   Node    a fresh project, `npm install --offline <aigw.tgz> <aigw-linux-x64-gnu.tgz>`, one chat;
#           then the platform package removed: require('aigw') names the platform it looked for
#   C       the tarball unpacked, an example built with `pkg-config --cflags --libs aigw`, one chat;
#           and once linked statically with libaigw.a and `pkg-config --static`
# Each chat goes through the mock gateway (release build, from target/dist) and must answer
# `echo: <message>`; each artefact must report the workspace version.
#   AIGW_TEST_DIST_REUSE=1  test the artefacts already in dist/ (no build)
#   AIGW_TEST_DIST_KEEP=1   keep the temporary folder
#   AIGW_TEST_DIST_PKGCONF_FROM_PYPI=1  use pkgconf from PyPI (what happens without pkg-config)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=${AIGW_DIST_DIR:-$ROOT/dist}
TARGET=${AIGW_DIST_TARGET_DIR:-$ROOT/target/dist}
TOOLS=${AIGW_DIST_VENV:-$ROOT/.tools/dist-venv}
say() { echo "[test-dist] $*" >&2; }
fail() { echo "[test-dist] FAIL: $*" >&2; exit 1; }
SECONDS=0
TIMINGS=()
lap() { # name: records the seconds since the previous lap
  local now=$SECONDS
  TIMINGS+=("$(printf '%-28s %4ss' "$1" "$((now - ${LAST_LAP:-0}))")")
  LAST_LAP=$now
}
PASSED=0

# ---- the artefacts -------------------------------------------------------------------------------

if [[ ${AIGW_TEST_DIST_REUSE:-0} == 1 ]]; then
  say "reusing the artefacts in $DIST"
else
  say "make dist (scripts/dist.sh)"
  AIGW_DIST_DIR=$DIST AIGW_DIST_TARGET_DIR=$TARGET scripts/dist.sh > /dev/null
fi
lap "make dist"
VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
MAJOR=${VERSION%%.*}
shopt -s nullglob
wheels=("$DIST"/aigw-"$VERSION"-cp310-abi3-manylinux_*_x86_64.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || fail "expected one abi3 manylinux wheel of $VERSION in $DIST"
WHEEL=${wheels[0]}
SDIST=$DIST/aigw-$VERSION.tar.gz
NPM_MAIN=$DIST/aigw-$VERSION.tgz
NPM_PLATFORM=$DIST/aigw-linux-x64-gnu-$VERSION.tgz
C_NAME=libaigw-$VERSION-x86_64-linux-gnu
C_TAR=$DIST/$C_NAME.tar.gz
for artefact in "$SDIST" "$NPM_MAIN" "$NPM_PLATFORM" "$C_TAR"; do
  [[ -s $artefact ]] || fail "missing $artefact"
done
MOCK=$TARGET/release/aigw-mock-gateway
[[ -x $MOCK ]] || fail "no mock gateway at $MOCK (scripts/dist.sh builds it)"

# ---- a place and a PATH without the source tree, cargo or rustc --------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/aigw-test-dist.XXXXXX")
MOCK_PID=
cleanup() {
  if [[ -n $MOCK_PID ]]; then kill "$MOCK_PID" 2> /dev/null || true; fi
  if [[ ${AIGW_TEST_DIST_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
mkdir -p "$WORK"/{artefacts,bin,home,tmp,py,node,c}
cp "$WHEEL" "$NPM_MAIN" "$NPM_PLATFORM" "$C_TAR" "$WORK/artefacts/"
WHEEL=$WORK/artefacts/${WHEEL##*/}

# The user's python3: the interpreter itself, not a version-manager shim needing more of PATH.
USER_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
"$USER_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || fail "$USER_PYTHON is older than 3.10"
link_tool() { # name [path]
  local path=${2:-$(command -v "$1" || true)}
  [[ -n $path ]] || return 1
  ln -s "$(readlink -f "$path")" "$WORK/bin/$1"
}
link_tool python3 "$USER_PYTHON"
for tool in sh bash env cat ls mkdir rm cp grep sed head tr node npm cc as ld; do
  link_tool "$tool" || fail "$tool is not installed"
done
PKG_CONFIG_NOTE="the machine's pkg-config"
if [[ ${AIGW_TEST_DIST_PKGCONF_FROM_PYPI:-0} == 1 ]] || ! link_tool pkg-config; then
  # No pkg-config on the machine: pkgconf from PyPI, into the project-local tools venv.
  if ! "$TOOLS/bin/pkgconf" --version > /dev/null 2>&1; then
    say "pkg-config is missing: installing pkgconf from PyPI into $TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check 'pkgconf>=2' >&2
  fi
  ln -s "$TOOLS/bin/pkgconf" "$WORK/bin/pkg-config"
  PKG_CONFIG_NOTE="pkgconf from PyPI in $TOOLS"
fi

# The mock gateway prints its port on stdout.
"$MOCK" --api-key k --lifetime-secs 900 > "$WORK/mock-port" &
MOCK_PID=$!
for _ in $(seq 1 200); do
  [[ -s $WORK/mock-port ]] && break
  sleep 0.05
done
PORT=$(head -n 1 "$WORK/mock-port")
[[ $PORT =~ ^[0-9]+$ ]] || fail "the mock gateway did not print its port"
PROFILE="{\"kind\":\"cloudflare\",\"base_url\":\"http://127.0.0.1:$PORT/v1/acct/gw/openai/compat\",\"api_key\":\"k\",\"model\":\"openai/gpt-4o-mini\"}"

# as_user DIR COMMAND...: runs COMMAND in DIR with the user's environment only.
as_user() {
  local dir=$1
  shift
  (cd "$dir" && env -i PATH="$WORK/bin" HOME="$WORK/home" TMPDIR="$WORK/tmp" LANG=C.UTF-8 \
    AIGW_PROFILE="$PROFILE" AIGW_EXPECTED_VERSION="$VERSION" \
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
    "$@")
}
as_user "$WORK" sh -c '! command -v cargo && ! command -v rustc && ! command -v rustup' > /dev/null \
  || fail "cargo or rustc is reachable from the clean PATH"
lap "setup (mock, clean PATH)"

# ---- Python ------------------------------------------------------------------------------------

say "Python: fresh venv, pip install --no-index ${WHEEL##*/}"
as_user "$WORK/py" python3 -m venv venv
as_user "$WORK/py" venv/bin/python -m pip install --quiet --no-index --disable-pip-version-check "$WHEEL"
cat > "$WORK/py/check.py" <<'PY'
import json
import os

import aigw

venv = os.path.abspath("venv")
assert aigw.__file__.startswith(venv + os.sep), f"aigw imported from {aigw.__file__}, not the venv"
assert aigw.__version__ == os.environ["AIGW_EXPECTED_VERSION"], aigw.__version__
client = aigw.Client(**json.loads(os.environ["AIGW_PROFILE"]))
answer = client.chat([{"role": "user", "content": "hello from the wheel"}])
text = answer["choices"][0]["message"]["content"]
assert text == "echo: hello from the wheel", text
print(f"aigw {aigw.__version__} (Python wheel): {text}")
PY
as_user "$WORK/py" venv/bin/python check.py >&2 || fail "the wheel's chat"
PASSED=$((PASSED + 1))
TAG=${WHEEL##*-abi3-}
TAG=${TAG%.whl}
AUDIT=$("$TOOLS/bin/auditwheel" show "$WHEEL" 2>&1) || fail "auditwheel show: $AUDIT"
AUDIT=$(tr -s ' \n' '  ' <<< "$AUDIT")
[[ $AUDIT == *"constrains the platform tag to \"$TAG\""* ]] \
  || fail "the wheel is tagged $TAG, auditwheel show says: $AUDIT"
say "Python: auditwheel show: the binary constrains the tag to $TAG, as the wheel is named"
PASSED=$((PASSED + 1))
lap "Python: venv, install, chat"

# ---- Node --------------------------------------------------------------------------------------

say "Node: fresh project, npm install --offline ${NPM_MAIN##*/} ${NPM_PLATFORM##*/}"
echo '{ "name": "aigw-user", "version": "1.0.0", "private": true }' > "$WORK/node/package.json"
as_user "$WORK/node" npm install --offline --no-audit --no-fund --loglevel=error \
  "$WORK/artefacts/${NPM_MAIN##*/}" "$WORK/artefacts/${NPM_PLATFORM##*/}" >&2
cat > "$WORK/node/check.js" <<'JS'
'use strict';
const assert = require('node:assert');
const path = require('node:path');
const aigw = require('aigw');

const modules = path.join(__dirname, 'node_modules');
assert.ok(require.resolve('aigw').startsWith(modules), require.resolve('aigw'));
const addon = require.resolve('aigw-linux-x64-gnu');
assert.strictEqual(addon, path.join(modules, 'aigw-linux-x64-gnu', 'aigw.linux-x64-gnu.node'));
assert.strictEqual(aigw.version, process.env.AIGW_EXPECTED_VERSION);
const optional = require('aigw/package.json').optionalDependencies;
assert.deepStrictEqual(optional, { 'aigw-linux-x64-gnu': process.env.AIGW_EXPECTED_VERSION });
(async () => {
  const client = new aigw.Client(JSON.parse(process.env.AIGW_PROFILE));
  const answer = await client.chat({ messages: [{ role: 'user', content: 'hello from npm' }] });
  const text = answer.choices[0].message.content;
  assert.strictEqual(text, 'echo: hello from npm');
  console.log(`aigw ${aigw.version} (npm tarballs, Node ${process.version}): ${text}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
JS
as_user "$WORK/node" node check.js >&2 || fail "the npm package's chat"
PASSED=$((PASSED + 1))
# Without its platform package the loader says which platform it looked for.
rm -rf "$WORK/node/node_modules/aigw-linux-x64-gnu"
cat > "$WORK/node/missing.js" <<'JS'
'use strict';
try {
  require('aigw');
  console.error('require(aigw) loaded without its platform package');
  process.exit(1);
} catch (err) {
  if (err.code !== 'AIGW_NO_NATIVE_ADDON' || !err.message.includes('(linux-x64-gnu)')
      || !err.message.includes('aigw-linux-x64-gnu')) {
    console.error('unexpected error:', err);
    process.exit(1);
  }
  console.log(`without the platform package: ${err.message}`);
}
JS
as_user "$WORK/node" node missing.js >&2 || fail "the loader's message without a platform package"
PASSED=$((PASSED + 1))
lap "Node: project, install, chat"

# ---- C -----------------------------------------------------------------------------------------

say "C: unpack ${C_TAR##*/}, build with pkg-config ($PKG_CONFIG_NOTE)"
tar -xzf "$WORK/artefacts/${C_TAR##*/}" -C "$WORK/c"
PREFIX=$WORK/c/$C_NAME
expected="include/aigw.h lib/libaigw.a lib/libaigw.so lib/libaigw.so.$MAJOR lib/pkgconfig/aigw.pc"
found=$(cd "$PREFIX" && find include lib \( -type f -o -type l \) | LC_ALL=C sort | tr '\n' ' ')
[[ ${found% } == "$expected" ]] || fail "the C tarball holds: $found (expected: $expected)"
[[ $(readlink "$PREFIX/lib/libaigw.so") == "libaigw.so.$MAJOR" ]] || fail "lib/libaigw.so is not a symlink to libaigw.so.$MAJOR"
soname=$(readelf -d "$PREFIX/lib/libaigw.so.$MAJOR" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "libaigw.so.$MAJOR" ]] || fail "SONAME of libaigw.so.$MAJOR is '$soname'"
cat > "$WORK/c/chat.c" <<'C'
#include <stdio.h>
#include <string.h>

#include <aigw.h>

/* usage: chat PROFILE_JSON MESSAGE: one chat, the answer's JSON on stdout. */
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    if (strcmp(aigw_version(), AIGW_VERSION) != 0) {
        fprintf(stderr, "aigw.h is %s, the library %s\n", AIGW_VERSION, aigw_version());
        return 1;
    }
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    if (aigw_client_new(argv[1], &client, &err) != AIGW_STATUS_OK) {
        fprintf(stderr, "aigw_client_new: %s\n", aigw_error_message(err));
        aigw_error_free(err);
        return 1;
    }
    char request[512];
    snprintf(request, sizeof request, "{\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", argv[2]);
    char *answer = NULL;
    int status = 0;
    if (aigw_client_chat(client, request, NULL, &answer, &err) == AIGW_STATUS_OK) {
        printf("aigw %s (%d.%d.%d): %s\n", aigw_version(), AIGW_VERSION_MAJOR, AIGW_VERSION_MINOR,
               AIGW_VERSION_PATCH, answer);
        aigw_string_free(answer);
    } else {
        fprintf(stderr, "aigw_client_chat: %s\n", aigw_error_message(err));
        aigw_error_free(err);
        status = 1;
    }
    aigw_client_free(client);
    return status;
}
C
cat > "$WORK/c/build.sh" <<'SH'
set -eu
[ "$(pkg-config --modversion aigw)" = "$AIGW_EXPECTED_VERSION" ]
# Shared: the documented line, plus an rpath since the prefix is not a system library folder.
cc -std=c11 -Wall -Wextra -Werror -pedantic chat.c -o chat $(pkg-config --cflags --libs aigw) \
  -Wl,-rpath,"$(pkg-config --variable=libdir aigw)"
# Static: libaigw.a and the system libraries pkg-config --static lists.
cc -std=c11 -Wall -Wextra -Werror -pedantic chat.c -o chat-static $(pkg-config --cflags aigw) \
  "$(pkg-config --variable=libdir aigw)/libaigw.a" $(pkg-config --static --libs-only-l aigw | sed 's/-laigw//')
SH
as_user "$WORK/c" env PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" sh build.sh || fail "building the C example"
readelf -d "$WORK/c/chat" | grep -q "NEEDED.*\[libaigw\.so\.$MAJOR\]" || fail "chat does not need libaigw.so.$MAJOR"
if readelf -d "$WORK/c/chat-static" | grep -q "NEEDED.*libaigw"; then fail "chat-static needs libaigw.so"; fi
for program in chat chat-static; do
  out=$(as_user "$WORK/c" "./$program" "$PROFILE" "hello from $program") || fail "the C $program"
  [[ $out == *"\"content\":\"echo: hello from $program\""* ]] || fail "the C $program answered: $out"
  echo "aigw $VERSION (C tarball, $program): echo: hello from $program" >&2
  PASSED=$((PASSED + 1))
done
lap "C: unpack, build, chat"

# ---- report ------------------------------------------------------------------------------------

for artefact in "$WHEEL" "$SDIST" "$NPM_MAIN" "$NPM_PLATFORM" "$C_TAR"; do
  say "$(printf '%8s KiB  %s' "$(( $(stat -c %s "$artefact") / 1024 ))" "${artefact##*/}")"
done
for line in "${TIMINGS[@]}"; do say "$line"; done
say "total ${SECONDS}s"
echo "test-dist: $PASSED passed, 0 failed"
