#!/usr/bin/env bash
# The demo (README command 1): describe an example Cloudflare profile.
set -euo pipefail
cd "$(dirname "$0")/.."
./target/release/aigw describe --kind cloudflare --account-id 0123456789abcdef0123456789abcdef --gateway-name prod-gw --model openai/gpt-4o-mini
