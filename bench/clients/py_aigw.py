"""aigw from Python."""
import aigw
from common import KEY, first_chunk, run, workload

w = workload()
client = aigw.Client(kind="cloudflare", base_url=w["base"], model="openai/gpt-4o-mini", api_key=KEY)
MSG = [{"role": "user", "content": "bench"}]


def chat():
    assert client.chat(messages=MSG)["choices"]


def stream():
    n = 0
    with client.chat_stream(messages=MSG, extra_headers={"x-mock-fault": w["fault"]}) as s:
        for _ in s:
            if not n:
                first_chunk()
            n += 1
    return n


run("aigw (Python)", w, chat, stream)
