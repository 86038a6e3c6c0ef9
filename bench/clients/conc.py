"""Concurrency scenario, Python side: N streams started at once on one asyncio loop, each a paced
~1 s stream from the mock. Reports wall time, completions and errors, event-loop lag (lateness
of a 10 ms `asyncio.sleep` ticking throughout) and peak RSS, as one JSON line.

usage: conc.py aigw|httpx|openai PORT N FAULT DEADLINE_S EVENTS  (EVENTS: content chunks a complete stream has)
"""
import asyncio
import collections
import json
import os
import resource
import sys
import time

from common import KEY, PATH

KIND, PORT, N, FAULT, DEADLINE, EVENTS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
BASE = f"http://127.0.0.1:{PORT}{PATH}"
MSG = [{"role": "user", "content": "bench"}]
MODEL = "openai/gpt-4o-mini"


def make():
    """The client's name, a coroutine function `one(fault)` that runs one stream and returns its
    chunk count, a close coroutine function (or None) and, for aigw, a pool-stats reader."""
    if KIND == "aigw":
        import aigw
        # One attempt, like the peers below (max_retries=0): a failure shows as an error.
        client = aigw.AsyncClient(kind="cloudflare", base_url=BASE, model=MODEL, api_key=KEY, retry_max_attempts=1)

        async def one(fault):
            n = 0
            async with client.chat_stream(messages=MSG, extra_headers={"x-mock-fault": fault}) as s:
                async for _ in s:
                    n += 1
            return n
        return "aigw (Python AsyncClient)", one, None, lambda: client.describe()["runtime"]
    if KIND == "httpx":
        import httpx
        # httpx's default pool (100 connections) would queue the streams: no connection cap.
        client = httpx.AsyncClient(base_url=BASE, headers={"Authorization": f"Bearer {KEY}"},
                                   limits=httpx.Limits(max_connections=None, max_keepalive_connections=None))
        body = {"model": MODEL, "messages": MSG, "stream": True}

        async def one(fault):
            n = 0
            async with client.stream("POST", "/chat/completions", json=body, headers={"x-mock-fault": fault}) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        json.loads(line[6:])
                        n += 1
            return n
        return "httpx.AsyncClient (Python)", one, client.aclose, None
    if KIND == "openai":
        import httpx2
        import openai
        # The SDK's default pool caps at 1 000 connections: no connection cap, no retries.
        http = openai.DefaultAsyncHttpx2Client(limits=httpx2.Limits(max_connections=None, max_keepalive_connections=None))
        client = openai.AsyncOpenAI(base_url=BASE, api_key=KEY, max_retries=0, http_client=http)

        async def one(fault):
            n = 0
            s = await client.chat.completions.create(model=MODEL, messages=MSG, stream=True,
                                                     extra_headers={"x-mock-fault": fault})
            async for _ in s:
                n += 1
            return n
        return "AsyncOpenAI (Python)", one, client.close, None
    raise SystemExit(f"unknown kind {KIND}")


def p99(v):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * 0.99))]


async def main():
    name, one, close, runtime = make()
    # Warm-up: one short stream (imports, first connection), not timed.
    await one("chunks=2")
    lags, ticking = [], [True]

    async def ticker(out):
        while ticking[0]:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            out.append((time.perf_counter() - t - 0.01) * 1e3)

    idle = []
    ticking[0] = True
    tick = asyncio.create_task(ticker(idle))
    await asyncio.sleep(1.0)
    ticking[0] = False
    await tick
    ticking[0] = True
    tick = asyncio.create_task(ticker(lags))
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    tasks = [asyncio.ensure_future(one(FAULT)) for _ in range(N)]
    peak_pool = [None]

    async def sampler():
        while True:
            r = runtime()
            if peak_pool[0] is None or r["threads"] > peak_pool[0]["threads"]:
                peak_pool[0] = r
            await asyncio.sleep(0.1)

    sampling = asyncio.create_task(sampler()) if runtime else None
    done, pending = await asyncio.wait(tasks, timeout=DEADLINE)
    wall = time.perf_counter() - started
    if sampling:
        sampling.cancel()
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    ticking[0] = False
    await tick
    errors = collections.Counter()
    ok = short = 0
    for t in done:
        e = t.exception()
        if e is not None:
            errors[f"{type(e).__name__}: {str(e)[:400]}"] += 1
        elif t.result() >= EVENTS:  # aigw also yields the usage chunk it asks for
            ok += 1
        else:
            short += 1
    print(json.dumps({
        "client": name, "n": N, "ok": ok, "short": short, "failed": sum(errors.values()),
        "unfinished": len(pending), "errors": errors.most_common(3), "wall_s": wall,
        "cpu_s": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime),
        "lag_p99_ms": p99(lags), "lag_max_ms": max(lags, default=0.0), "idle_lag_p99_ms": p99(idle),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "pool": peak_pool[0],
    }), flush=True)
    # Past the deadline: do not wait for stragglers (the harness reports them as unfinished).
    if pending or errors:
        os._exit(0)
    if close:
        await close()


asyncio.run(main())
