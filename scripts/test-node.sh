#!/usr/bin/env bash
# The Node suite (Makefile `test-node`): install the napi CLI into bindings/node/node_modules,
# build the addon (debug), prove the checked-in binding.d.ts is what the build generates, build
# the mock gateway, and run `node --test`. Needs only Rust and Node 20 + npm; a second run skips
# the install and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PKG=$ROOT/bindings/node
GENERATED=$ROOT/target/aigw-node
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

cd "$PKG"
# node_modules/.package-lock.json is npm's record of the last install: reinstall when the lock
# file is newer or the CLI is missing.
if [[ ! -x node_modules/.bin/napi || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "== npm ci (bindings/node)"
  npm ci --no-audit --no-fund
fi

echo "== napi build (debug)"
mkdir -p "$GENERATED"
# --dts is relative to the crate folder; the fresh file goes to target/ and is compared below.
node_modules/.bin/napi build --platform --no-js --dts "../../target/aigw-node/binding.d.ts"

echo "== binding.d.ts is fresh"
if ! diff -u binding.d.ts "$GENERATED/binding.d.ts"; then
  echo "bindings/node/binding.d.ts is stale: run \`npm run build\` in bindings/node and commit it" >&2
  exit 1
fi

echo "== cargo build -p aigw-mock"
(cd "$ROOT" && cargo build -p aigw-mock)

echo "== node --test"
timeout 600 node --test --test-concurrency=1 --test-timeout=120000 test/*.test.js
