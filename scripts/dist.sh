#!/usr/bin/env bash
# The release artefacts (`make dist`) and the C library install (`make install`).
#
#   scripts/dist.sh              writes dist/ (after checking that every version agrees):
#     aigw-<v>-cp310-abi3-manylinux_2_<N>_x86_64.whl   abi3 wheel, CPython >= 3.10 (maturin)
#     aigw-<v>.tar.gz                                  Python sdist
#     aigw-<v>.tgz, aigw-linux-x64-gnu-<v>.tgz         npm tarballs, napi-rs layout
#     libaigw-<v>-x86_64-linux-gnu.tar.gz              C library: include/aigw.h, lib/libaigw.so.<major>
#                                                      (+ libaigw.so symlink), lib/libaigw.a,
#                                                      lib/pkgconfig/aigw.pc (relocatable)
#   scripts/dist.sh install      installs the C library under $PREFIX (default /usr/local; also
#                                $LIBDIR, $INCLUDEDIR, $DESTDIR), with the same layout
#   scripts/dist.sh versions     only checks that the versions agree
#
# One release build serves every artefact: its own target dir (target/dist, or
# $AIGW_DIST_TARGET_DIR) so no other build can replace a binary while it is packed, release
# profile without debug info (CARGO_PROFILE_RELEASE_DEBUG/STRIP). The manylinux tag is the one
# maturin finds for the binary (the newest glibc symbol version it needs), checked by maturin's
# auditwheel check; build on an older glibc for an older tag. maturin (and auditwheel) go to the
# project-local venv .tools/dist-venv. Progress goes to stderr; the artefact paths to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-dist}
say() { echo "[dist] $*" >&2; }
die() { echo "[dist] error: $*" >&2; exit 1; }
SECONDS=0

export CARGO_TARGET_DIR=${AIGW_DIST_TARGET_DIR:-$ROOT/target/dist}
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
RELEASE=$CARGO_TARGET_DIR/release
OUT=${AIGW_DIST_DIR:-$ROOT/dist}
STAGE=$CARGO_TARGET_DIR/stage
TOOLS=${AIGW_DIST_VENV:-$ROOT/.tools/dist-venv}
PYTHON=${PYTHON:-python3}

# ---- versions ---------------------------------------------------------------------------------

# The workspace version is the one; everything else must say the same.
VERSION=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
[[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "cannot read [workspace.package] version from Cargo.toml"
MAJOR=${BASH_REMATCH[1]}
MINOR=${BASH_REMATCH[2]}
PATCH=${BASH_REMATCH[3]}

check_versions() {
  local bad=0 name found
  check() { # name value
    if [[ $2 != "$VERSION" ]]; then
      echo "[dist] version mismatch: $1 says '${2}', Cargo.toml [workspace.package] says $VERSION" >&2
      bad=1
    fi
  }
  # Every crate inherits the workspace version (a crate with its own would be packed with it).
  for name in core ffi bindings/python bindings/node; do
    if ! grep -q '^version\.workspace *= *true' "$name/Cargo.toml"; then
      found=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$name/Cargo.toml")
      check "$name/Cargo.toml" "$found"
    fi
  done
  # pyproject: maturin takes the version from Cargo when it is dynamic.
  if grep -q '^dynamic *=.*"version"' bindings/python/pyproject.toml; then
    :
  else
    check bindings/python/pyproject.toml "$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' bindings/python/pyproject.toml)"
  fi
  for name in bindings/node/package.json bindings/node/npm/linux-x64-gnu/package.json; do
    check "$name" "$(node -p "require('./$name').version")"
  done
  check "include/aigw.h AIGW_VERSION" "$(sed -n 's/^#define AIGW_VERSION "\(.*\)"$/\1/p' include/aigw.h)"
  check "include/aigw.h AIGW_VERSION_MAJOR.MINOR.PATCH" "$(
    for part in MAJOR MINOR PATCH; do sed -n "s/^#define AIGW_VERSION_$part \([0-9]*\)$/\1/p" include/aigw.h; done | paste -sd.)"
  [[ $bad -eq 0 ]] || die "versions disagree (bump them together; the header: AIGW_UPDATE_HEADER=1 cargo test -p aigw-ffi --test header)"
  say "versions agree: $VERSION (Cargo, pyproject, both package.json, aigw.h; aigw.pc is written from it)"
}

# ---- host --------------------------------------------------------------------------------------

check_host() {
  local host
  host=$(rustc -vV | sed -n 's/^host: //p')
  [[ $host == x86_64-unknown-linux-gnu ]] \
    || die "make dist packs x86_64-unknown-linux-gnu (the platform package it ships); this host is $host"
}

# ---- the C library layout (tarball and install) -----------------------------------------------

# lay_out_c DEST PC_PREFIX PC_LIBDIR PC_INCLUDEDIR: include/aigw.h, lib/libaigw.so.<major> with its
# libaigw.so symlink, lib/libaigw.a, lib/pkgconfig/aigw.pc under DEST (LIBDIR/INCLUDEDIR override).
lay_out_c() {
  local dest=$1 prefix=$2 libdir=$3 includedir=$4
  local lib=${DEST_LIBDIR:-$dest/lib} inc=${DEST_INCLUDEDIR:-$dest/include}
  install -d "$inc" "$lib/pkgconfig"
  install -m 644 include/aigw.h "$inc/aigw.h"
  install -m 755 "$RELEASE/libaigw.so" "$lib/libaigw.so.$MAJOR"
  ln -sfn "libaigw.so.$MAJOR" "$lib/libaigw.so"
  install -m 644 "$RELEASE/libaigw.a" "$lib/libaigw.a"
  # Rust's std objects inside the archive keep their debug info; a static link does not need it.
  if command -v strip > /dev/null 2>&1; then strip --strip-debug "$lib/libaigw.a"; fi
  sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
      -e "s|@VERSION@|$VERSION|" -e '/^# /d' ffi/aigw.pc.in > "$lib/pkgconfig/aigw.pc"
}

# A reproducible gzip'd tar of DIR's folder NAME.
pack_tar() { # DIR NAME OUTPUT
  local epoch
  epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || date +%s)}
  tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$2" \
    | gzip -9n > "$3"
}

# ---- tools -------------------------------------------------------------------------------------

ensure_tools() {
  if ! "$TOOLS/bin/maturin" --version > /dev/null 2>&1 || ! "$TOOLS/bin/auditwheel" --version > /dev/null 2>&1; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "$PYTHON is older than 3.10"
    say "installing maturin and auditwheel into $TOOLS"
    rm -rf "$TOOLS"
    "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
      'maturin>=1.9.4,<2' 'auditwheel>=6' >&2
  fi
}

# ---- modes -------------------------------------------------------------------------------------

case $MODE in
  versions)
    check_versions
    exit 0
    ;;
  install)
    check_versions
    PREFIX=${PREFIX:-/usr/local}
    [[ $PREFIX == /* ]] || die "PREFIX must be an absolute path (got '$PREFIX')"
    LIBDIR=${LIBDIR:-$PREFIX/lib}
    INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
    say "building libaigw (release)"
    cargo build --release --locked -p aigw-ffi
    # aigw.pc names its folders relative to ${prefix} where they are under it.
    pc_libdir=$LIBDIR pc_includedir=$INCLUDEDIR
    [[ $LIBDIR == "$PREFIX"/* ]] && pc_libdir="\${prefix}${LIBDIR#"$PREFIX"}"
    [[ $INCLUDEDIR == "$PREFIX"/* ]] && pc_includedir="\${prefix}${INCLUDEDIR#"$PREFIX"}"
    DEST_LIBDIR=${DESTDIR:-}$LIBDIR DEST_INCLUDEDIR=${DESTDIR:-}$INCLUDEDIR \
      lay_out_c "${DESTDIR:-}$PREFIX" "$PREFIX" "$pc_libdir" "$pc_includedir"
    say "installed into ${DESTDIR:-}$PREFIX: $INCLUDEDIR/aigw.h, $LIBDIR/libaigw.so.$MAJOR (+ libaigw.so), $LIBDIR/libaigw.a, $LIBDIR/pkgconfig/aigw.pc"
    [[ -n ${DESTDIR:-} ]] || say "pkg-config: PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --cflags --libs aigw (run ldconfig if $LIBDIR is a system library folder)"
    exit 0
    ;;
  dist) ;;
  *)
    echo "usage: $0 [dist|install|versions]" >&2
    exit 2
    ;;
esac

check_versions
check_host
ensure_tools
rm -rf "$OUT" "$STAGE"
mkdir -p "$OUT" "$STAGE"

# libaigw, the Node addon and the mock gateway (for scripts/test-dist.sh) in one cargo invocation,
# so they share one build of aigw-core and its dependencies (cargo unifies features per
# invocation; a workspace-wide feature set is nightly-only). maturin builds the Python module in
# its own invocation, where pyo3 turns on more features of shared crates (libc, once_cell, syn):
# aigw-core is built a second time there.
say "building libaigw, the Node addon and the mock gateway (release)"
cargo build --release --locked -p aigw-ffi -p aigw-node -p aigw-mock
say "building the wheel (maturin, release)"
"$TOOLS/bin/maturin" build --release --locked -m bindings/python/Cargo.toml \
  --auditwheel check --out "$OUT" >&2
say "building the sdist"
"$TOOLS/bin/maturin" sdist -m bindings/python/Cargo.toml --out "$OUT" >&2

WHEEL=$(ls "$OUT"/aigw-"$VERSION"-cp310-abi3-*.whl)
[[ $WHEEL == *manylinux_2_*_x86_64.whl ]] || die "the wheel is not tagged manylinux: $WHEEL"

# C library: relocatable, aigw.pc finds its prefix from its own place (${pcfiledir}).
say "packing the C library"
C_NAME=libaigw-$VERSION-x86_64-linux-gnu
lay_out_c "$STAGE/$C_NAME" '${pcfiledir}/../..' '${prefix}/lib' '${prefix}/include'
install -m 644 LICENSE-MIT LICENSE-APACHE "$STAGE/$C_NAME/"
pack_tar "$STAGE" "$C_NAME" "$OUT/$C_NAME.tar.gz"

# npm, napi-rs layout: the platform package holds the addon; the main package holds the loader
# and names the platform package in optionalDependencies (added here, as `napi pre-publish`
# does, so the checked-in package.json and its lock file need no registry package).
say "packing the npm packages"
NODE_STAGE=$STAGE/npm
PLATFORM_PKG=$NODE_STAGE/linux-x64-gnu
MAIN_PKG=$NODE_STAGE/aigw
mkdir -p "$PLATFORM_PKG" "$MAIN_PKG"
cp bindings/node/npm/linux-x64-gnu/package.json bindings/node/npm/linux-x64-gnu/README.md "$PLATFORM_PKG/"
install -m 755 "$RELEASE/libaigw_node.so" "$PLATFORM_PKG/aigw.linux-x64-gnu.node"
cp bindings/node/{index.js,index.d.ts,binding.d.ts,README.md,package.json} "$MAIN_PKG/"
cp LICENSE-MIT LICENSE-APACHE "$PLATFORM_PKG/"
cp LICENSE-MIT LICENSE-APACHE "$MAIN_PKG/"
node - "$MAIN_PKG/package.json" "$PLATFORM_PKG/package.json" <<'JS'
const fs = require('node:fs');
const [mainFile, platformFile] = process.argv.slice(2);
const main = JSON.parse(fs.readFileSync(mainFile, 'utf8'));
const platform = JSON.parse(fs.readFileSync(platformFile, 'utf8'));
main.optionalDependencies = { [platform.name]: platform.version };
// Nothing to build or test in the packed package; no registry package is needed at run time.
delete main.devDependencies;
delete main.scripts;
main.files = [...main.files.filter((pattern) => !pattern.endsWith('.node')), 'LICENSE-MIT', 'LICENSE-APACHE'];
fs.writeFileSync(mainFile, `${JSON.stringify(main, null, 2)}\n`);
JS
(cd "$PLATFORM_PKG" && npm pack --ignore-scripts --silent --pack-destination "$OUT" > /dev/null)
(cd "$MAIN_PKG" && npm pack --ignore-scripts --silent --pack-destination "$OUT" > /dev/null)

for artefact in "$WHEEL" "$OUT/aigw-$VERSION.tar.gz" "$OUT/aigw-$VERSION.tgz" \
    "$OUT/aigw-linux-x64-gnu-$VERSION.tgz" "$OUT/$C_NAME.tar.gz"; do
  [[ -s $artefact ]] || die "missing $artefact"
  say "$(printf '%8s KiB  %s' "$(( $(stat -c %s "$artefact") / 1024 ))" "${artefact#"$ROOT"/}")"
  echo "$artefact"
done
say "done after ${SECONDS}s"
