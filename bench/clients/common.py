"""Measurement shared by the Python benchmark clients: same phases and report as bench/src/lib.rs.
`run` drives a blocking client (T threads in the concurrent phase), `run_async` an asyncio one
(T tasks on one event loop)."""
import asyncio
import json
import resource
import sys
import threading
import time

KEY = "bench-key"
PATH = "/v1/0123456789abcdef0123456789abcdef/bench/openai/compat"

# Start of the stream being measured, and the time-to-first-chunk samples (µs).
_first = {"t": None, "samples": []}


def workload():
    a = [int(x) for x in sys.argv[1:6]]
    port, k, s, n, t = (a + [0, 2000, 200, 64, 8][len(a):])[:5]
    return {"port": port, "k": k, "s": s, "n": n, "t": t,
            "base": f"http://127.0.0.1:{port}{PATH}", "fault": f"chunks={n};content_len={n * 4}"}


def cpu_us():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e6


def first_chunk():
    """Called by a stream function on its first chunk: records the time to first chunk."""
    t = _first["t"]
    if t is not None:
        _first["samples"].append((time.perf_counter() - t) * 1e6)
        _first["t"] = None


def _stream_started():
    _first["t"] = time.perf_counter()


def _report(name, lat, cpu_req, cpu_event, events, rps):
    lat.sort()
    ttfc = sorted(_first["samples"]) or [0.0]
    print(json.dumps({"client": name, "latency_us_median": lat[len(lat) // 2],
                      "ttfc_us_median": ttfc[len(ttfc) // 2], "cpu_us_per_req": cpu_req,
                      "cpu_us_per_event": cpu_event, "events": events, "concurrent_rps": rps,
                      "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def run(name, w, chat, stream, concurrent=None):
    for _ in range(100):
        chat()
    lat = []
    c0 = cpu_us()
    for _ in range(w["k"]):
        t = time.perf_counter()
        chat()
        lat.append((time.perf_counter() - t) * 1e6)
    cpu_req = (cpu_us() - c0) / w["k"]
    c1 = cpu_us()
    events = 0
    for _ in range(w["s"]):
        _stream_started()
        events += stream()
    cpu_event = (cpu_us() - c1) / max(events, 1)
    per = max(w["k"] // w["t"], 1)
    work = concurrent or (lambda n: [chat() for _ in range(n)])
    threads = [threading.Thread(target=work, args=(per,)) for _ in range(w["t"])]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rps = per * w["t"] / (time.perf_counter() - started)
    _report(name, lat, cpu_req, cpu_event, events, rps)


def run_async(name, w, chat, stream):
    """The same phases with coroutines: `await chat()`, `await stream()` (returns its event
    count); the concurrent phase is T tasks on the one event loop, each awaiting its chats."""

    async def phases():
        for _ in range(100):
            await chat()
        lat = []
        c0 = cpu_us()
        for _ in range(w["k"]):
            t = time.perf_counter()
            await chat()
            lat.append((time.perf_counter() - t) * 1e6)
        cpu_req = (cpu_us() - c0) / w["k"]
        c1 = cpu_us()
        events = 0
        for _ in range(w["s"]):
            _stream_started()
            events += await stream()
        cpu_event = (cpu_us() - c1) / max(events, 1)
        per = max(w["k"] // w["t"], 1)

        async def worker():
            for _ in range(per):
                await chat()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(w["t"])))
        rps = per * w["t"] / (time.perf_counter() - started)
        _report(name, lat, cpu_req, cpu_event, events, rps)

    asyncio.run(phases())
