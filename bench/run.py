#!/usr/bin/env python3
"""Benchmark harness: start the mock gateway on 127.0.0.1, run the same workload through
every client, print a markdown table with every figure also as a ratio to the Rust floor measured
in the same run. Peers are installed into bench/.peers by this script. Not part of `make test`.

usage: python3 bench/run.py [--quick] [--out bench/results.md]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / ".peers"
REL = ROOT / "target" / "release"
VENV_PY = PEERS / "venv" / "bin" / "python"
NODE_DIR = PEERS / "node"


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


def start_mock():
    proc = subprocess.Popen([str(REL / "aigw-mock-gateway"), "--api-key", "bench-key", "--lifetime-secs", "900"],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip())
    return proc, port


def run_client(cmd, args, env=None, cwd=None):
    out = subprocess.run(cmd + [str(a) for a in args], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold(cmd, base, n=15, env=None, cwd=None):
    """Median extra wall ms of `cmd` over `base`, interleaved to share the noise."""
    def once(c):
        t = time.perf_counter()
        subprocess.run(c, check=True, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd)
        return (time.perf_counter() - t) * 1e3
    diffs = [once(cmd) - once(base) for _ in range(n)]
    return statistics.median(diffs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller workload (for a smoke run)")
    ap.add_argument("--out", default=str(BENCH / "results.md"))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians")
    a = ap.parse_args()
    k, s, n, t = (300, 30, 64, 4) if a.quick else (2000, 200, 64, 8)
    if a.quick:
        a.rounds = 1
    missing = setup()
    mock, port = start_mock()
    args = [port, k, s, n, t]
    clients = [("floor", [str(REL / "floor")], {}, None),
               ("rust", [str(REL / "rust_aigw")], {}, None)]
    if "c" not in missing:
        clients.append(("c", [str(PEERS / "c_bench")], {}, None))
    pyenv = {"PYTHONPATH": str(BENCH / "clients")}
    if "python" not in missing:
        for name in ["py_aigw", "py_openai", "py_httpx"]:
            clients.append((name, [str(VENV_PY), str(BENCH / "clients" / f"{name}.py")], pyenv, None))
    nodeenv = {"NODE_PATH": str(NODE_DIR / "node_modules")}
    if "node" not in missing:
        clients.append(("node_aigw", ["node", str(BENCH / "clients" / "node_aigw.js")], nodeenv, None))
        clients.append(("node_aigw_sync", ["node", str(BENCH / "clients" / "node_aigw.js")],
                        {**nodeenv, "AIGW_BENCH_SYNC": "1"}, None))
        for name in ["node_openai", "node_undici"]:
            clients.append((name, ["node", str(BENCH / "clients" / f"{name}.js")], nodeenv, None))
    rows = []
    started = time.time()
    try:
        # Rounds interleave the clients so that machine noise lands on all of them alike; each
        # figure is the median over the rounds.
        samples = {}
        for _ in range(a.rounds):
            for key, cmd, env, cwd in clients:
                if key in missing:
                    continue
                try:
                    samples.setdefault(key, []).append(run_client(cmd, args, env, cwd))
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError) as e:
                    err = getattr(e, "stderr", "") or ""
                    missing[key] = f"failed: {str(err).strip().splitlines()[-1:] or e}"
                    samples.pop(key, None)
        for key, _, _, _ in clients:
            if key in samples:
                runs = samples[key]
                row = {"client": runs[0]["client"]}
                for field in ["latency_us_median", "cpu_us_per_req", "cpu_us_per_event", "concurrent_rps", "peak_rss_kib"]:
                    row[field] = statistics.median(r[field] for r in runs)
                rows.append(row)
        colds = []
        if "python" not in missing:
            colds.append(("`import aigw` (Python)", cold([str(VENV_PY), "-c", "import aigw"], [str(VENV_PY), "-c", "pass"]), 30))
            colds.append(("`import openai` (Python)", cold([str(VENV_PY), "-c", "import openai"], [str(VENV_PY), "-c", "pass"], n=5), None))
        if "node" not in missing:
            colds.append(("`require('aigw')` (Node)", cold(["node", "-e", "require('aigw')"], ["node", "-e", "0"], env=nodeenv), 20))
            colds.append(("`require('openai')` (Node)", cold(["node", "-e", "require('openai')"], ["node", "-e", "0"], n=5, env=nodeenv), None))
        if "c" not in missing:
            colds.append(("C program start with libaigw", cold([str(PEERS / "c_bench"), "--noop"], ["/bin/true"]), None))
        scaling = None
        if "python" not in missing:
            scaling = run_client([str(VENV_PY), str(BENCH / "clients" / "py_threads.py")], args, pyenv)
        micro = [json.loads(l) for l in subprocess.run([str(REL / "micro")], check=True, capture_output=True, text=True).stdout.splitlines()]
    finally:
        mock.kill()
    floor = rows[0]
    lines = [f"{a.rounds} interleaved round(s), medians. Workload: K={k} sequential chats, S={s} streams x N={n} chunks, T={t} concurrent workers x {max(k // t, 1)} requests; "
             f"mock gateway on 127.0.0.1; {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; total {time.time() - started:.0f} s.",
             "", "| client | median latency µs | CPU µs/request | × floor | CPU µs/SSE event | × floor | concurrent req/s | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['client']} | {r['latency_us_median']:.0f} | {r['cpu_us_per_req']:.1f} | {r['cpu_us_per_req'] / floor['cpu_us_per_req']:.2f} | "
                     f"{r['cpu_us_per_event']:.2f} | {r['cpu_us_per_event'] / floor['cpu_us_per_event']:.2f} | {r['concurrent_rps']:.0f} | {r['peak_rss_kib'] / 1024:.1f} |")
    targets = [("aigw (C)", "cpu_us_per_req", 1.3), ("aigw (C)", "cpu_us_per_event", 2.0),
               ("aigw (Python)", "cpu_us_per_req", 3.0), ("aigw (Python)", "cpu_us_per_event", 8.0),
               ("aigw (Node, await chat)", "cpu_us_per_req", 3.0), ("aigw (Node, chatSync)", "cpu_us_per_req", 2.0),
               ("aigw (Node, await chat)", "cpu_us_per_event", 15.0)]
    by_name = {r["client"]: r for r in rows}
    lines += ["", "| target (× the floor's CPU) | measured | target | met |", "|---|---:|---:|---|"]
    for name, field, limit in targets:
        if name in by_name:
            ratio = by_name[name][field] / floor[field]
            what = "per request" if field == "cpu_us_per_req" else "per SSE event"
            lines.append(f"| {name}, {what} | {ratio:.2f}× | ≤ {limit}× | {'yes' if ratio <= limit else 'NO'} |")
    if scaling:
        lines.append(f"| aigw (Python), 4 threads vs 1 on a 20 ms mock | {scaling['scaling']:.2f}× throughput "
                     f"({scaling['threads_4_rps']:.0f} vs {scaling['threads_1_rps']:.0f} req/s) | ≥ 1.5× | "
                     f"{'yes' if scaling['scaling'] >= 1.5 else 'NO'} |")
    lines += ["", "| cold start | extra ms over a bare start | target |", "|---|---:|---|"]
    for label, ms, target in colds:
        lines.append(f"| {label} | {ms:.1f} | {'≤ ' + str(target) + ' ms' if target else ''} |")
    lines += ["", "| micro-benchmark | figure |", "|---|---:|"]
    for m in micro:
        fig = f"{m['mb_per_s']:.0f} MB/s" if "mb_per_s" in m else f"{m['us_per_op']:.2f} µs/op"
        lines.append(f"| {m['micro']} | {fig} |")
    if missing:
        lines += ["", "Not measured in this run: " + "; ".join(f"{k}: {v}" for k, v in missing.items())]
    table = "\n".join(lines)
    print(table)
    Path(a.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
