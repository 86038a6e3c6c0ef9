"""The official openai Python SDK against the same mock."""
import openai
from common import KEY, first_chunk, run, workload

w = workload()
client = openai.OpenAI(base_url=w["base"], api_key=KEY, max_retries=0)
MSG = [{"role": "user", "content": "bench"}]


def chat():
    assert client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG).choices


def stream():
    n = 0
    for _ in client.chat.completions.create(model="openai/gpt-4o-mini", messages=MSG, stream=True,
                                            extra_headers={"x-mock-fault": w["fault"]}):
        if not n:
            first_chunk()
        n += 1
    return n


run("openai SDK (Python)", w, chat, stream)
