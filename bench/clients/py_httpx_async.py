"""Raw `httpx.AsyncClient` against the same mock."""
import json

import httpx
from common import KEY, first_chunk, run_async, workload

w = workload()
client = httpx.AsyncClient(base_url=w["base"], headers={"Authorization": f"Bearer {KEY}"})
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "bench"}]}


async def chat():
    assert (await client.post("/chat/completions", json=BODY)).json()["choices"]


async def stream():
    n = 0
    async with client.stream("POST", "/chat/completions", json={**BODY, "stream": True},
                             headers={"x-mock-fault": w["fault"]}) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                assert json.loads(line[6:])["choices"] is not None
                if not n:
                    first_chunk()
                n += 1
    return n


run_async("httpx.AsyncClient (Python)", w, chat, stream)
