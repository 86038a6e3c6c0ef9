"""The official openai Python SDK's `AsyncOpenAI` against the same mock."""
import openai
from common import KEY, first_chunk, run_async, workload

w = workload()
client = openai.AsyncOpenAI(base_url=w["base"], api_key=KEY, max_retries=0)
MSG = [{"role": "user", "content": "bench"}]


async def chat():
    assert (await client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG)).choices


async def stream():
    n = 0
    s = await client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG, stream=True,
                                             extra_headers={"x-mock-fault": w["fault"]})
    async for _ in s:
        if not n:
            first_chunk()
        n += 1
    return n


run_async("AsyncOpenAI (Python)", w, chat, stream)
