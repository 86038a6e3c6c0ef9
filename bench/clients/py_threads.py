"""Python thread scaling: requests/s of 1 thread and of 4 threads sharing one aigw client against
a mock that delays every answer by 20 ms (the GIL must be released while waiting)."""
import json
import threading
import time

import aigw
from common import KEY, workload

w = workload()
client = aigw.Client(kind="cloudflare", base_url=w["base"], model="openai/gpt-4o-mini", api_key=KEY)
MSG = [{"role": "user", "content": "bench"}]
SLOW = {"x-mock-fault": "delay_ms=20"}
PER_THREAD = 50


def work() -> None:
    for _ in range(PER_THREAD):
        client.chat(messages=MSG, extra_headers=SLOW)


def rps(threads: int) -> float:
    pool = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return threads * PER_THREAD / (time.perf_counter() - started)


one, four = rps(1), rps(4)
print(json.dumps({"threads_1_rps": one, "threads_4_rps": four, "scaling": four / one}))
