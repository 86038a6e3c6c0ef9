#!/usr/bin/env bash
# The demo (README command 1): build, start the mock gateway on loopback (or use the real
# Cloudflare AI Gateway when credentials are set), write a config pointing at it, run the CLI's
# doctor / list-models / ask, then the C, Python and Node examples, then stop the mock.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/demo-out
mkdir -p "$OUT"
cargo build --release -p aigw-cli -p aigw-mock
AIGW=$ROOT/target/release/aigw

KEY_SET=${CLOUDFLARE_API_KEY:-${CLOUDFLARE_AI_GATEWAY_API_KEY:-}}
if [[ -n "$KEY_SET" && -n "${CLOUDFLARE_ACCOUNT_ID:-}" && -n "${CLOUDFLARE_GATEWAY_NAME:-}" ]]; then
  echo "== demo: targeting the REAL Cloudflare AI Gateway (account ${CLOUDFLARE_ACCOUNT_ID}, gateway ${CLOUDFLARE_GATEWAY_NAME})"
  cat > "$OUT/aigw.toml" <<TOML
active_provider = "cloudflare"

[providers.cloudflare]
kind = "cloudflare_ai_gateway"
account_id = "${CLOUDFLARE_ACCOUNT_ID}"
gateway_name = "${CLOUDFLARE_GATEWAY_NAME}"
model = "${AIGW_DEMO_MODEL:-openai/gpt-4o-mini}"
TOML
else
  echo "== demo: no Cloudflare credentials in the environment; using the mock gateway on 127.0.0.1"
  rm -f "$OUT/port"
  "$ROOT/target/release/aigw-mock-gateway" --api-key demo-key --lifetime-secs 600 --port-file "$OUT/port" > /dev/null &
  MOCK_PID=$!
  trap 'kill $MOCK_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do [[ -s "$OUT/port" ]] && break; sleep 0.05; done
  PORT=$(cat "$OUT/port")
  export CLOUDFLARE_API_KEY=demo-key
  unset CLOUDFLARE_AI_GATEWAY_API_KEY
  cat > "$OUT/aigw.toml" <<TOML
active_provider = "cloudflare"

[providers.cloudflare]
kind = "cloudflare_ai_gateway"
base_url = "http://127.0.0.1:${PORT}/v1/0123456789abcdef0123456789abcdef/demo-gw/openai/compat"
model = "openai/gpt-4o-mini"

[providers.cloudflare.gateway]
metadata = { app = "aigw-demo" }
TOML
fi
export AIGW_DEMO_CONFIG=$OUT/aigw.toml

echo; echo "== aigw doctor"
"$AIGW" --config "$AIGW_DEMO_CONFIG" doctor
echo; echo "== aigw list-models"
"$AIGW" --config "$AIGW_DEMO_CONFIG" list-models
echo; echo "== aigw ask"
"$AIGW" --config "$AIGW_DEMO_CONFIG" ask --verbose --message "Hello from the aigw demo"
if [[ -n "${PORT:-}" ]]; then
  # The same OpenAI-shaped call to a kind that speaks Anthropic Messages, translated both ways.
  echo; echo "== aigw ask (kind anthropic, Anthropic Messages through the mock)"
  ANTHROPIC_API_KEY=demo-key "$AIGW" --kind anthropic --base-url "http://127.0.0.1:${PORT}" \
    --model claude-sonnet-4-5 ask --verbose --message "Hello from the Anthropic protocol"
fi

for lang in c python node; do
  if [[ -x "examples/$lang/run.sh" ]]; then
    echo; echo "== $lang example"
    "examples/$lang/run.sh"
  fi
done
echo; echo "== demo finished"
