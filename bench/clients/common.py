"""Measurement shared by the Python benchmark clients: same phases and report as bench/src/lib.rs."""
import json
import resource
import sys
import threading
import time

KEY = "bench-key"
PATH = "/v1/0123456789abcdef0123456789abcdef/bench/openai/compat"


def workload():
    a = [int(x) for x in sys.argv[1:6]]
    port, k, s, n, t = (a + [0, 2000, 200, 64, 8][len(a):])[:5]
    return {"port": port, "k": k, "s": s, "n": n, "t": t,
            "base": f"http://127.0.0.1:{port}{PATH}", "fault": f"chunks={n};content_len={n * 4}"}


def cpu_us():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e6


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
    events = sum(stream() for _ in range(w["s"]))
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
    lat.sort()
    print(json.dumps({"client": name, "latency_us_median": lat[len(lat) // 2], "cpu_us_per_req": cpu_req,
                      "cpu_us_per_event": cpu_event, "events": events, "concurrent_rps": rps,
                      "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
