"""aigw from Python asyncio: `aigw.AsyncClient` (calls run on core's worker pool)."""
import aigw
from common import KEY, first_chunk, run_async, workload

w = workload()
client = aigw.AsyncClient(kind="cloudflare", base_url=w["base"], model="openai/gpt-4o-mini", api_key=KEY)
MSG = [{"role": "user", "content": "bench"}]


async def chat():
    assert (await client.chat(messages=MSG))["choices"]


async def stream():
    n = 0
    async with client.chat_stream(messages=MSG, extra_headers={"x-mock-fault": w["fault"]}) as s:
        async for _ in s:
            if not n:
                first_chunk()
            n += 1
    return n


run_async("aigw (Python AsyncClient)", w, chat, stream)
