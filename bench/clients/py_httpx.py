"""Raw httpx (what an SDK is built on) against the same mock."""
import json

import httpx
from common import KEY, first_chunk, run, workload

w = workload()
client = httpx.Client(base_url=w["base"], headers={"Authorization": f"Bearer {KEY}"})
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "bench"}]}


def chat():
    assert client.post("/chat/completions", json=BODY).json()["choices"]


def stream():
    n = 0
    with client.stream("POST", "/chat/completions", json={**BODY, "stream": True},
                       headers={"x-mock-fault": w["fault"]}) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                assert json.loads(line[6:])["choices"] is not None
                if not n:
                    first_chunk()
                n += 1
    return n


run("httpx (Python)", w, chat, stream)
