#!/usr/bin/env python3
"""Benchmark harness: start the mock gateway on 127.0.0.1, run the same workload through
every client, print a markdown table with every figure also as a ratio to the Rust floor measured
in the same run. Peers are installed into bench/.peers by this script. Not part of `make test`.

usage: python3 bench/run.py [--quick] [--pinned] [--rounds R] [--clients a,b] [--out bench/results.md]
       python3 bench/run.py --concurrency [--conc-n 100,1000,10000] [--conc-rounds R]

--pinned runs the mock and every client on one CPU (`taskset -c 0`), so CPU per request compares
clients that cannot spread work over a second core. --concurrency runs N concurrent paced ~1 s
streams through the event-loop clients instead of the request workload. Each mode replaces its
own section of the --out file.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / ".peers"
REL = ROOT / "target" / "release"
VENV_PY = PEERS / "venv" / "bin" / "python"
NODE_DIR = PEERS / "node"
PYENV = {"PYTHONPATH": str(BENCH / "clients")}
NODEENV = {"NODE_PATH": str(NODE_DIR / "node_modules")}
# The concurrency scenario's stream: 20 content chunks, the first at once, then a 1 s stall, then
# the other 19 and [DONE] (the mock has no per-event pacing directive; one stall is what it has).
PACED_FAULT = "chunks=20;content_len=80;stall_after=1;stall_ms=1000"
PACED_EVENTS = 20


def raise_fd_limit():
    """Raises the soft open-files limit to the hard one (inherited by the mock and the clients);
    the hard one can only be raised with CAP_SYS_RESOURCE. Returns (soft, hard, note)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    note = ""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1 << 20, 1 << 20))
    except (ValueError, OSError):
        note = f"hard limit {hard} could not be raised (no CAP_SYS_RESOURCE)"
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard, note


def sh(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def setup():
    """Build aigw (release) and install the peers; returns {client: reason} for what is missing."""
    missing = {}
    PEERS.mkdir(parents=True, exist_ok=True)
    sh(["cargo", "build", "--release", "-p", "aigw-mock", "-p", "aigw-bench", "-p", "aigw-ffi"], cwd=ROOT)
    try:
        sh(["cc", "-O2", "-o", str(BENCH / ".peers" / "c_bench"), str(BENCH / "clients" / "c_bench.c"),
            f"-I{ROOT / 'include'}", f"-L{REL}", "-laigw", f"-Wl,-rpath,{REL}", "-lpthread"])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        missing["c"] = f"C client did not build ({e})"
    try:
        if not VENV_PY.exists():
            sh([sys.executable, "-m", "venv", str(PEERS / "venv")])
        sh([str(VENV_PY), "-m", "pip", "install", "-q", "openai", "httpx"])
        sh([str(VENV_PY), "-m", "pip", "install", "-q", str(ROOT / "bindings" / "python")])
    except subprocess.CalledProcessError as e:
        missing["python"] = f"Python setup failed ({e})"
    try:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        if not (NODE_DIR / "package.json").exists():
            (NODE_DIR / "package.json").write_text('{"name":"aigw-bench-peers","private":true}\n')
        sh(["npm", "install", "--silent", "--no-audit", "--no-fund", "openai@5", "undici@6"], cwd=NODE_DIR)
        node_pkg = ROOT / "bindings" / "node"
        sh(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=node_pkg)
        sh(["npm", "run", "--silent", "build:release"], cwd=node_pkg)
        link = NODE_DIR / "node_modules" / "aigw"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(node_pkg)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        missing["node"] = f"Node setup failed ({e})"
    return missing


def start_mock(pin=(), lifetime=900):
    proc = subprocess.Popen(list(pin) + [str(REL / "aigw-mock-gateway"), "--api-key", "bench-key", "--lifetime-secs", str(lifetime)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip())
    return proc, port


def run_client(cmd, args, env=None, cwd=None):
    """Runs a client and returns its JSON report. A client that printed its report and then
    died (e.g. aborted at exit) still counts, with the exit status kept in `_rc`: the harness
    reports the crash next to the figures instead of dropping the row."""
    out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)
    lines = out.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if report is None:
        raise subprocess.CalledProcessError(out.returncode, cmd, out.stdout, out.stderr)
    report["_rc"] = out.returncode
    return report


def exit_note(rc):
    if rc < 0:
        try:
            import signal
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


def proc_status(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_sampled(cmd, env, timeout, mock_pid):
    """Runs a client, polling /proc every 20 ms for its thread count (and every 100 ms for the
    mock's threads and open fds); returns (its JSON report or None, stderr tail, peaks)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    peaks = {"threads": 0, "mock_threads": 0, "mock_fds": 0}
    done = threading.Event()

    def sample():
        i = 0
        while not done.is_set():
            peaks["threads"] = max(peaks["threads"], proc_status(proc.pid, "Threads"))
            if i % 5 == 0:
                peaks["mock_threads"] = max(peaks["mock_threads"], proc_status(mock_pid, "Threads"))
                try:
                    peaks["mock_fds"] = max(peaks["mock_fds"], len(os.listdir(f"/proc/{mock_pid}/fd")))
                except OSError:
                    pass
            i += 1
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\nkilled after {timeout} s"
    done.set()
    sampler.join()
    lines = out.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if report is not None:
        report["_rc"] = proc.returncode
    return report, "\n".join(err.strip().splitlines()[-3:]), peaks


def tcp_counters():
    """Loopback listen-queue counters of this network namespace (/proc/net/netstat): SYNs or
    handshakes dropped because the mock's accept queue was full, and SYN cookies sent."""
    try:
        head, vals = [l.split() for l in Path("/proc/net/netstat").read_text().splitlines()[:2]]
        d = dict(zip(head[1:], (int(v) for v in vals[1:])))
        return {"overflows": d.get("ListenOverflows", 0), "cookies": d.get("TCPReqQFullDoCookies", 0)}
    except (OSError, ValueError):
        return {"overflows": 0, "cookies": 0}


def mock_call(port, route, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/__mock/{route}", method=method,
                                 headers={"Connection": "close"}, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def mock_quiesce(port, limit_s=30):
    """Waits until the mock holds no client connection (the previous client's have closed), then
    resets its counters; returns the connections still open if it gave up."""
    deadline = time.time() + limit_s
    while True:
        st = mock_call(port, "stats")
        live = st["connections_opened"] - st["connections_closed"] - 1
        if live <= 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    mock_call(port, "reset", "POST")
    return max(live, 0)


def write_section(path, mode, text):
    """Replaces this mode's section of the results file (or appends it)."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    block = f"<!-- bench:{mode} -->\n{text}\n<!-- /bench:{mode} -->"
    pattern = re.compile(rf"<!-- bench:{mode} -->.*?<!-- /bench:{mode} -->", re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    elif "<!-- bench:" in old:
        new = old.rstrip() + "\n\n" + block + "\n"
    else:
        new = block + "\n"  # an old-style file (one run's table) is replaced
    path.write_text(new)


def cold(cmd, base, n=15, env=None, cwd=None):
    """Median extra wall ms of `cmd` over `base`, interleaved to share the noise."""
    def once(c):
        t = time.perf_counter()
        subprocess.run(c, check=True, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd)
        return (time.perf_counter() - t) * 1e3
    diffs = [once(cmd) - once(base) for _ in range(n)]
    return statistics.median(diffs)


def request_workload(a, missing, pin):
    """The request/stream workload through every client; returns the results section."""
    k, s, n, t = (300, 30, 64, 4) if a.quick else (2000, 200, 64, 8)
    mock, port = start_mock(pin)
    args = [port, k, s, n, t]
    clients = [("floor", [str(REL / "floor")], {}, None),
               ("rust", [str(REL / "rust_aigw")], {}, None)]
    if "c" not in missing:
        clients.append(("c", [str(PEERS / "c_bench")], {}, None))
    if "python" not in missing:
        for name in ["py_aigw", "py_openai", "py_httpx", "py_aigw_async", "py_openai_async", "py_httpx_async"]:
            clients.append((name, [str(VENV_PY), str(BENCH / "clients" / f"{name}.py")], PYENV, None))
    if "node" not in missing:
        clients.append(("node_aigw", ["node", str(BENCH / "clients" / "node_aigw.js")], NODEENV, None))
        clients.append(("node_aigw_sync", ["node", str(BENCH / "clients" / "node_aigw.js")],
                        {**NODEENV, "AIGW_BENCH_SYNC": "1"}, None))
        for name in ["node_openai", "node_undici"]:
            clients.append((name, ["node", str(BENCH / "clients" / f"{name}.js")], NODEENV, None))
    if a.clients:
        keep = set(a.clients.split(",")) | {"floor"}
        clients = [c for c in clients if c[0] in keep]
    rows = []
    started = time.time()
    pinned = bool(pin)
    try:
        # Rounds interleave the clients so that machine noise lands on all of them alike; each
        # figure is the median over the rounds.
        samples = {}
        for _ in range(a.rounds):
            for key, cmd, env, cwd in clients:
                if key in missing:
                    continue
                try:
                    samples.setdefault(key, []).append(run_client(list(pin) + cmd, args, env, cwd))
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError) as e:
                    err = getattr(e, "stderr", "") or ""
                    missing[key] = f"failed: {str(err).strip().splitlines()[-1:] or e}"
                    samples.pop(key, None)
        for key, _, _, _ in clients:
            if key in samples:
                runs = samples[key]
                row = {"client": runs[0]["client"], "crashes": [r["_rc"] for r in runs if r["_rc"] != 0], "runs": len(runs)}
                for field in ["latency_us_median", "ttfc_us_median", "cpu_us_per_req", "cpu_us_per_event", "concurrent_rps", "peak_rss_kib"]:
                    row[field] = statistics.median(r[field] for r in runs)
                rows.append(row)
        colds, scaling, micro = [], None, []
        if not a.clients:
            if "python" not in missing:
                colds.append(("`import aigw` (Python)", cold(list(pin) + [str(VENV_PY), "-c", "import aigw"], list(pin) + [str(VENV_PY), "-c", "pass"]), 30))
                colds.append(("`import openai` (Python)", cold(list(pin) + [str(VENV_PY), "-c", "import openai"], list(pin) + [str(VENV_PY), "-c", "pass"], n=5), None))
            if "node" not in missing:
                colds.append(("`require('aigw')` (Node)", cold(list(pin) + ["node", "-e", "require('aigw')"], list(pin) + ["node", "-e", "0"], env=NODEENV), 20))
                colds.append(("`require('openai')` (Node)", cold(list(pin) + ["node", "-e", "require('openai')"], list(pin) + ["node", "-e", "0"], n=5, env=NODEENV), None))
            if "c" not in missing:
                colds.append(("C program start with libaigw", cold(list(pin) + [str(PEERS / "c_bench"), "--noop"], list(pin) + ["/bin/true"]), None))
            if "python" not in missing:
                scaling = run_client(list(pin) + [str(VENV_PY), str(BENCH / "clients" / "py_threads.py")], args, PYENV)
            micro = [json.loads(l) for l in subprocess.run(list(pin) + [str(REL / "micro")], check=True, capture_output=True, text=True).stdout.splitlines()]
    finally:
        mock.kill()
    floor = rows[0]
    where = "mock and client both pinned to CPU 0 (`taskset -c 0`)" if pinned else "mock and client unpinned"
    title = "Request workload, pinned to one CPU" if pinned else "Request workload"
    lines = [f"### {title}", "",
             f"{a.rounds} interleaved round(s), medians. Workload: K={k} sequential chats, S={s} streams x N={n} chunks, T={t} concurrent workers x {max(k // t, 1)} requests; "
             f"mock gateway on 127.0.0.1, {where}; {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; total {time.time() - started:.0f} s.",
             "", "| client | median latency µs | time to first chunk µs | CPU µs/request | × floor | CPU µs/SSE event | × floor | concurrent req/s | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        mark = " †" if r["crashes"] else ""
        lines.append(f"| {r['client']}{mark} | {r['latency_us_median']:.0f} | {r['ttfc_us_median']:.0f} | {r['cpu_us_per_req']:.1f} | {r['cpu_us_per_req'] / floor['cpu_us_per_req']:.2f} | "
                     f"{r['cpu_us_per_event']:.2f} | {r['cpu_us_per_event'] / floor['cpu_us_per_event']:.2f} | {r['concurrent_rps']:.0f} | {r['peak_rss_kib'] / 1024:.1f} |")
    crashed = [r for r in rows if r["crashes"]]
    if crashed:
        lines += ["", "† printed its report, then did not exit cleanly: " + "; ".join(
            f"{r['client']}: {len(r['crashes'])} of {r['runs']} run(s), {', '.join(sorted(set(exit_note(c) for c in r['crashes'])))}" for r in crashed)
            + " (figures kept: the measurement had completed)."]
    by_name = {r["client"]: r for r in rows}

    def target_rows(targets):
        out = []
        for name, field, limit, label in targets:
            if name in by_name:
                ratio = by_name[name][field] / floor[field]
                out.append(f"| {label} | {ratio:.2f}× | ≤ {limit}× | {'yes' if ratio <= limit else '**NO**'} |")
            else:
                out.append(f"| {label} | not measured | ≤ {limit}× | **NO** (not measured) |")
        return out

    node_a, node_s, pya = "aigw (Node, await chat)", "aigw (Node, chatSync)", "aigw (Python AsyncClient)"
    lines += ["", f"Targets of the async/concurrency issue ({'pinned: these CPU ratios are the ones the issue asks for' if pinned else 'unpinned; the CPU-per-request targets are for the pinned run'}):",
              "", "| target | measured | target | met |", "|---|---:|---:|---|"]
    lines += target_rows([(node_a, "cpu_us_per_req", 2.0, "aigw Node `await chat`, CPU per request × floor"),
                          (node_s, "cpu_us_per_req", 1.5, "aigw Node `chatSync`, CPU per request × floor"),
                          (pya, "cpu_us_per_req", 2.5, "aigw Python AsyncClient, CPU per request × floor"),
                          ("aigw (C)", "cpu_us_per_event", 1.5, "aigw C, CPU per SSE event × floor"),
                          ("aigw (Python)", "cpu_us_per_event", 3.0, "aigw Python (sync), CPU per SSE event × floor"),
                          (pya, "cpu_us_per_event", 3.0, "aigw Python AsyncClient, CPU per SSE event × floor")])
    if "aigw (C)" in by_name:
        c_ttfc = by_name["aigw (C)"]["ttfc_us_median"]
        for name in [node_a, node_s]:
            if name in by_name:
                ratio = by_name[name]["ttfc_us_median"] / c_ttfc
                lines.append(f"| {name}, time to first chunk × C's ({by_name[name]['ttfc_us_median']:.0f} vs {c_ttfc:.0f} µs) | "
                             f"{ratio:.2f}× | ≤ 2.0× | {'yes' if ratio <= 2.0 else '**NO**'} |")
    if not pinned:
        lines += ["", "Targets of the earlier issue (unpinned):", "", "| target (× the floor's CPU) | measured | target | met |", "|---|---:|---:|---|"]
        lines += target_rows([(c, f, lim, f"{c}, {'per request' if f == 'cpu_us_per_req' else 'per SSE event'}") for c, f, lim in [
            ("aigw (C)", "cpu_us_per_req", 1.3), ("aigw (C)", "cpu_us_per_event", 2.0),
            ("aigw (Python)", "cpu_us_per_req", 3.0), ("aigw (Python)", "cpu_us_per_event", 8.0),
            (node_a, "cpu_us_per_req", 3.0), (node_s, "cpu_us_per_req", 2.0), (node_a, "cpu_us_per_event", 15.0)]])
    if scaling:
        lines.append(f"| aigw (Python), 4 threads vs 1 on a 20 ms mock | {scaling['scaling']:.2f}× throughput "
                     f"({scaling['threads_4_rps']:.0f} vs {scaling['threads_1_rps']:.0f} req/s) | ≥ 1.5× | "
                     f"{'yes' if scaling['scaling'] >= 1.5 else '**NO**'} |")
    if colds:
        lines += ["", "| cold start | extra ms over a bare start | target |", "|---|---:|---|"]
        for label, ms, target in colds:
            lines.append(f"| {label} | {ms:.1f} | {'≤ ' + str(target) + ' ms' if target else ''} |")
    if micro:
        lines += ["", "| micro-benchmark | figure |", "|---|---:|"]
        for m in micro:
            fig = f"{m['mb_per_s']:.0f} MB/s" if "mb_per_s" in m else f"{m['us_per_op']:.2f} µs/op"
            lines.append(f"| {m['micro']} | {fig} |")
    if missing:
        lines += ["", "Not measured in this run: " + "; ".join(f"{k}: {v}" for k, v in missing.items())]
    return "\n".join(lines)


def short_error(message):
    return re.sub(r"(https?://)?127\.0\.0\.1:\d+\S*", "<mock url>", message)[:160].replace("|", "/")


def concurrency(a, missing, fd):
    """N concurrent paced streams through the event-loop clients, for each N; returns the section."""
    ns = [int(x) for x in a.conc_n.split(",") if x.strip()]
    clients = []
    if "node" not in missing:
        clients += [("aigw_node", "node", ["node", str(BENCH / "clients" / "conc.js"), "aigw"], NODEENV),
                    ("undici", "node", ["node", str(BENCH / "clients" / "conc.js"), "undici"], NODEENV)]
    if "python" not in missing:
        clients += [("aigw_py", "python", [str(VENV_PY), str(BENCH / "clients" / "conc.py"), "aigw"], PYENV),
                    ("httpx", "python", [str(VENV_PY), str(BENCH / "clients" / "conc.py"), "httpx"], PYENV),
                    ("openai", "python", [str(VENV_PY), str(BENCH / "clients" / "conc.py"), "openai"], PYENV)]
    if a.clients:
        keep = set(a.clients.split(","))
        clients = [c for c in clients if c[0] in keep]
    started = time.time()
    mock, port = start_mock(lifetime=3600)
    results = {}  # (n, key) -> list of (report, peaks, stats, leftover, err)
    try:
        for n in ns:
            rounds = a.conc_rounds if n < 10_000 else 1
            deadline = 60 if n < 10_000 else a.big_deadline
            for _ in range(rounds):
                for key, _lang, cmd, env in clients:
                    leftover = mock_quiesce(port)
                    t0 = time.time()
                    tcp0 = tcp_counters()
                    report, err, peaks = run_sampled(cmd + [str(port), str(n), PACED_FAULT, str(deadline), str(PACED_EVENTS)],
                                                     env, deadline + 60, mock.pid)
                    tcp1 = tcp_counters()
                    peaks["overflows"] = tcp1["overflows"] - tcp0["overflows"]
                    peaks["cookies"] = tcp1["cookies"] - tcp0["cookies"]
                    stats = mock_call(port, "stats")
                    print(f"[conc] N={n} {key}: {time.time() - t0:.1f} s, {json.dumps(report)[:300]} {peaks} {stats} {err[-200:] if not report else ''}",
                          file=sys.stderr, flush=True)
                    results.setdefault((n, key), []).append((report, peaks, stats, leftover, err))
                    if mock.poll() is not None:
                        raise RuntimeError(f"the mock exited ({mock.returncode}) during N={n} {key}")
    finally:
        mock.kill()
    lines = ["### Concurrency: N concurrent paced streams", "",
             f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, unpinned; total {time.time() - started:.0f} s. "
             f"Each stream: mock fault `{PACED_FAULT}` (first chunk at once, a 1 s stall, then 19 chunks and [DONE]; "
             f"the mock has no per-event pacing). All streams are started at once on one event loop; "
             f"medians of {a.conc_rounds} interleaved rounds for N < 10 000, one round for N = 10 000 (deadline {a.big_deadline} s). "
             f"Open-files limit of the mock and the clients: {fd[0]} (hard {fd[1]}{'; ' + fd[2] if fd[2] else ''}); the mock holds 1 descriptor per connection.",
             "",
             "| N | client | completed | wall s | × best peer (same language) | peak RSS MiB | peak threads | loop lag p99 ms (idle p99) | client CPU s | mock peak connections | listen overflows | errors |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    rows = {}
    for n in ns:
        for key, lang, _, _ in clients:
            runs = results.get((n, key), [])
            good = [r for r in runs if r[0]]
            if not good:
                err = runs[0][4] if runs else "not run"
                rows[(n, key)] = None
                lines.append(f"| {n} | {key} | crashed | | | | | | | | | {err.splitlines()[-1] if err else ''} |")
                continue
            med = lambda f: statistics.median(r[0][f] for r in good)
            row = {"client": good[0][0]["client"], "lang": lang, "wall": med("wall_s"), "rss": med("peak_rss_kib") / 1024,
                   "threads": statistics.median(r[1]["threads"] for r in good), "lag": med("lag_p99_ms"),
                   "idle": med("idle_lag_p99_ms"), "cpu": med("cpu_s"),
                   "ok_min": min(r[0]["ok"] for r in good), "rounds": len(runs),
                   "clean": all(r[0]["ok"] == n for r in good) and len(good) == len(runs),
                   "peak_conn": max(r[2]["connections_peak"] for r in good),
                   "overflows": statistics.median(r[1]["overflows"] for r in good),
                   "mock_threads": max(r[1]["mock_threads"] for r in good), "mock_fds": max(r[1]["mock_fds"] for r in good),
                   "errors": "; ".join(f"{c}× {short_error(m)}" for r in good for m, c in r[0]["errors"]) +
                             "".join(f" {r[0]['unfinished']} unfinished at the deadline;" for r in good if r[0]["unfinished"]) +
                             "".join(f" {r[0]['short']} ended short;" for r in good if r[0]["short"]),
                   "pool": good[-1][0].get("pool"),
                   "crashes": [r[0]["_rc"] for r in good if r[0]["_rc"] != 0]}
            rows[(n, key)] = row
        for key, lang, _, _ in clients:
            row = rows.get((n, key))
            if not row:
                continue
            peers = [rows[(n, k)] for k, l, _, _ in clients if not k.startswith("aigw") and l == lang and rows.get((n, k))]
            best = min(peers, key=lambda p: p["wall"], default=None)
            vs = f"{row['wall'] / best['wall']:.2f}" if best else ""
            if best and not (row["clean"] and best["clean"]):
                vs += " *"
            pool = f" (pool: {row['pool']['threads']} threads)" if row.get("pool") else ""
            crash = f" (then {exit_note(row['crashes'][0])} at exit in {len(row['crashes'])} of {len(good)} runs)" if row["crashes"] else ""
            lines.append(f"| {n} | {row['client']}{crash} | {row['ok_min']}/{n} | {row['wall']:.2f} | {vs} | {row['rss']:.1f} | {row['threads']:.0f}{pool} | "
                         f"{row['lag']:.1f} ({row['idle']:.1f}) | {row['cpu']:.2f} | {row['peak_conn']} | {row['overflows']:.0f} | {row['errors'] or '—'} |")
    lines += ["", "\\* this client or the best peer had failed or unfinished streams: the wall times compare unequal work. "
              "`completed` is the worst round; `errors` sums every round. Peak threads are polled from /proc every 20 ms; "
              "`pool` is aigw's `describe()[\"runtime\"]` at its peak. Loop lag: how late a 10 ms timer fired while the streams ran "
              "(in parentheses: during 1 s of idling just before). Listen overflows: the kernel's ListenOverflows counter "
              "(handshakes dropped because the mock's accept queue, 8 192 deep (capped by net.core.somaxconn), was full) over the client's run."]
    mock_peaks = [(n, max((rows[(n, k)] or {}).get("mock_threads", 0) for k, *_ in clients),
                   max((rows[(n, k)] or {}).get("mock_fds", 0) for k, *_ in clients)) for n in ns]
    lines += ["", "Mock process peaks (threads, open descriptors): " + "; ".join(f"N={n}: {t} threads, {f} fds" for n, t, f in mock_peaks) + "."]
    # Targets: N = 1 000 against the best peer of the same language (and of any language, for
    # information); N = 10 000 must complete without error.
    lines += ["", "| target | measured | target | met |", "|---|---:|---:|---|"]
    for key in ["aigw_node", "aigw_py"]:
        if not any(k == key for k, *_ in clients):
            continue
        r = rows.get((1000, key))
        label = "aigw Node" if key == "aigw_node" else "aigw Python AsyncClient"
        if 1000 in ns:
            if r:
                peers = [rows[(1000, k)] for k, l, _, _ in clients if not k.startswith("aigw") and l == r["lang"] and rows.get((1000, k))]
                allp = [rows[(1000, k)] for k, *_ in clients if not k.startswith("aigw") and rows.get((1000, k))]
                if peers:
                    bw = min(peers, key=lambda p: p["wall"])
                    br = min(peers, key=lambda p: p["rss"])
                    ratio = r["wall"] / bw["wall"]
                    flaw = "" if bw["clean"] else f"; the peer completed only {bw['ok_min']}/1000 in its worst round"
                    lines.append(f"| {label}, N=1 000 wall × best same-language peer ({bw['client']}{flaw}) | {r['wall']:.2f} vs {bw['wall']:.2f} s = {ratio:.2f}× | ≤ 1.1× | {'yes' if ratio <= 1.1 else '**NO**'} |")
                    aw = min(allp, key=lambda p: p["wall"])
                    ratio = r["wall"] / aw["wall"]
                    lines.append(f"| {label}, N=1 000 wall × best peer of any language ({aw['client']}) | {ratio:.2f}× | ≤ 1.1× | {'yes' if ratio <= 1.1 else '**NO**'} |")
                    lines.append(f"| {label}, N=1 000 peak RSS vs best same-language peer ({br['client']}) | {r['rss']:.1f} vs {br['rss']:.1f} MiB | ≤ | {'yes' if r['rss'] <= br['rss'] else '**NO**'} |")
                    ar = min(allp, key=lambda p: p["rss"])
                    lines.append(f"| {label}, N=1 000 peak RSS vs best peer of any language ({ar['client']}) | {r['rss']:.1f} vs {ar['rss']:.1f} MiB | ≤ | {'yes' if r['rss'] <= ar['rss'] else '**NO**'} |")
                lines.append(f"| {label}, N=1 000 event-loop lag p99 | {r['lag']:.1f} ms | ≤ 20 ms | {'yes' if r['lag'] <= 20 else '**NO**'} |")
                if not r["clean"]:
                    lines.append(f"| {label}, N=1 000 all streams complete | {r['ok_min']}/1000 | 1000/1000 | **NO** |")
            else:
                lines.append(f"| {label}, N=1 000 | crashed | | **NO** |")
        if 10_000 in ns:
            r = rows.get((10_000, key))
            met = bool(r and r["clean"])
            lines.append(f"| {label}, N=10 000 complete without error | {(str(r['ok_min']) + '/10000') if r else 'crashed'} | 10000/10000 | {'yes' if met else '**NO**'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller workload (for a smoke run)")
    ap.add_argument("--out", default=str(BENCH / "results.md"))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians")
    ap.add_argument("--pinned", action="store_true", help="mock and clients on CPU 0 (taskset -c 0)")
    ap.add_argument("--concurrency", action="store_true", help="N concurrent paced streams instead of the request workload")
    ap.add_argument("--conc-n", default="100,1000,10000", help="the N values of --concurrency")
    ap.add_argument("--conc-rounds", type=int, default=3, help="rounds for N < 10 000 (N = 10 000 runs once)")
    ap.add_argument("--big-deadline", type=int, default=90, help="seconds a client gets for N = 10 000")
    ap.add_argument("--clients", default="", help="comma-separated client keys to run (default: all)")
    ap.add_argument("--no-setup", action="store_true", help="skip the build and installs")
    a = ap.parse_args()
    if a.quick:
        a.rounds = 1
    fd = raise_fd_limit()
    missing = {} if a.no_setup else setup()
    if a.concurrency:
        mode, text = "concurrency", concurrency(a, missing, fd)
    else:
        pin = ["taskset", "-c", "0"] if a.pinned else []
        mode = "pinned" if a.pinned else "requests"
        text = request_workload(a, missing, pin)
    if a.quick and a.out == ap.get_default("out"):
        a.out = str(PEERS / "results-quick.md")  # a smoke run does not overwrite the results
    print(text)
    write_section(a.out, mode, text)


if __name__ == "__main__":
    main()
