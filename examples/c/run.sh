#!/usr/bin/env bash
# The C example of the demo: builds libaigw (release), compiles examples/c/chat.c with the build
# line of examples/c/README.md, writes a pkg-config file for the build tree, and runs the example
# with the config in $AIGW_DEMO_CONFIG (scripts/demo.sh sets it, pointing at the mock gateway or
# at the real Cloudflare AI Gateway).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${AIGW_DEMO_CONFIG:?set AIGW_DEMO_CONFIG to an aigw config file (scripts/demo.sh does)}"

cargo build --release -p aigw-ffi
mkdir -p target/c-example target/release/pkgconfig

# pkg-config file for this build tree (an install would use its own prefix).
VERSION=$(sed -n 's/^#define AIGW_VERSION "\(.*\)"$/\1/p' include/aigw.h)
sed -e "s|@PREFIX@|$PWD|" -e "s|@LIBDIR@|$PWD/target/release|" \
    -e "s|@INCLUDEDIR@|$PWD/include|" -e "s|@VERSION@|$VERSION|" \
    ffi/aigw.pc.in > target/release/pkgconfig/aigw.pc
if command -v pkg-config > /dev/null 2>&1; then
  echo "+ PKG_CONFIG_PATH=target/release/pkgconfig pkg-config --cflags --libs aigw"
  PKG_CONFIG_PATH=$PWD/target/release/pkgconfig pkg-config --cflags --libs aigw
fi

# The build line documented in examples/c/README.md.
set -x
cc -std=c11 -Wall -Wextra -O2 -Iinclude examples/c/chat.c -o target/c-example/chat \
   -Ltarget/release -laigw -Wl,-rpath,"$PWD/target/release"
{ set +x; } 2> /dev/null

./target/c-example/chat "$AIGW_DEMO_CONFIG" "${AIGW_DEMO_MESSAGE:-Hello from the aigw C example}"
