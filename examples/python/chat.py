"""aigw from Python: load the demo config, show the operator-visible route (where traffic goes
and which credential is used — its source, never its value), then stream an answer.

    AIGW_DEMO_CONFIG=aigw.toml python chat.py ["your question"]
"""

from __future__ import annotations

import os
import sys

import aigw


def main() -> int:
    config = os.environ.get("AIGW_DEMO_CONFIG")
    if not config:
        print("set AIGW_DEMO_CONFIG to an aigw config file (TOML or JSON)", file=sys.stderr)
        return 2
    question = " ".join(sys.argv[1:]) or "Hello from the aigw Python example"
    try:
        client = aigw.Client.from_config(config)
    except aigw.ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2

    described = client.describe()
    route = described["route"]
    credentials = described["credentials"]
    print(f"aigw {aigw.__version__} (Python)")
    print(f"  kind              {described['kind']}")
    print(f"  request endpoint  {route['request_endpoint']}")
    print(f"  account id        {route['account_id']}")
    print(f"  gateway name      {route['gateway_name']}")
    print(f"  credential source {credentials['source'] or credentials.get('message')}")
    print(f"  model             {described['model']['model'] or 'auto'}")
    if route["hint"]:
        print(f"  hint              {route['hint']}")

    print(f"\n> {question}")
    try:
        with client.chat_stream(messages=[{"role": "user", "content": question}]) as stream:
            for chunk in stream:
                for choice in chunk.get("choices", []):
                    text = (choice.get("delta") or choice.get("message") or {}).get("content")
                    if text:
                        print(text, end="", flush=True)
            meta = stream.meta
    except aigw.AigwError as e:
        print(f"\nrequest failed: {e.code}: {e}", file=sys.stderr)
        return 1
    print()
    print(
        f"[status {meta['status']}, model {meta['model']}, "
        f"cf-aig-log-id {meta['cf_aig_log_id']}, request id {meta['request_id']}]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
