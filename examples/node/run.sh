#!/usr/bin/env bash
# The Node example of the demo: builds the addon when there is none newer than the Rust sources
# (release profile; an up-to-date debug build from the tests is used as is), links the package
# into examples/node/node_modules, then runs chat.js against the config in $AIGW_DEMO_CONFIG.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PKG=$ROOT/bindings/node
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

ADDON=$(ls "$PKG"/aigw.*.node 2>/dev/null | head -n 1 || true)
if [[ -z "$ADDON" ]] || [[ -n "$(find "$ROOT/core/src" "$ROOT/core/data" "$ROOT/core/Cargo.toml" \
    "$PKG/src" "$PKG/Cargo.toml" "$ROOT/Cargo.lock" -newer "$ADDON" -print -quit 2>/dev/null)" ]]; then
  echo "== building the Node addon (release)"
  if [[ ! -x "$PKG/node_modules/.bin/napi" || "$PKG/package-lock.json" -nt "$PKG/node_modules/.package-lock.json" ]]; then
    (cd "$PKG" && npm ci --no-audit --no-fund)
  fi
  mkdir -p "$ROOT/target/aigw-node"
  # The type file goes to target/: the checked-in binding.d.ts is only rewritten by `npm run build`.
  (cd "$PKG" && node_modules/.bin/napi build --platform --release --no-js \
    --dts ../../target/aigw-node/binding.d.ts)
fi

cd examples/node
if [[ ! -e node_modules/aigw/index.js ]]; then
  npm install --no-audit --no-fund --no-package-lock --silent
fi
exec node chat.js "$@"
