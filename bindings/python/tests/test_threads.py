"""The GIL is released for every network wait, and one client serves many threads at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import aigw
from conftest import ClientFactory, fault, stream_text, user


def progress_while(call: Callable[[], object]) -> tuple[int, float]:
    """Runs `call` on this thread while another thread counts loop turns in pure Python.
    Returns the turns counted during the call and its duration."""
    stop = threading.Event()
    started = threading.Event()
    turns = [0]

    def count() -> None:
        started.set()
        while not stop.is_set():
            turns[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    started.wait(timeout=5)
    before = turns[0]
    begin = time.monotonic()
    try:
        call()
    finally:
        seconds = time.monotonic() - begin
        during = turns[0] - before
        stop.set()
        counter.join(timeout=10)
    return during, seconds


def test_chat_releases_the_gil(client: aigw.Client) -> None:
    during, seconds = progress_while(
        lambda: client.chat(user("slow"), extra_headers=fault("delay_ms=600"))
    )
    assert seconds >= 0.5
    # With the GIL held for the whole wait the counter could not run at all.
    assert during > 1000, during


def test_stream_wait_releases_the_gil(client: aigw.Client) -> None:
    def consume() -> None:
        with client.chat_stream(user("x"), extra_headers=fault("stall_after=1;stall_ms=600")) as s:
            assert stream_text(list(s)) == "echo: x"

    during, seconds = progress_while(consume)
    assert seconds >= 0.5
    assert during > 1000, during


def test_list_models_and_doctor_release_the_gil(make_client: ClientFactory) -> None:
    client = make_client(headers=fault("models:delay_ms=400"), model_catalog_cache_ttl_ms=0)
    for call in (client.list_models, client.doctor):
        during, seconds = progress_while(call)
        assert seconds >= 0.35
        assert during > 500, (call, during)


def test_one_client_many_threads(client: aigw.Client) -> None:
    def work(n: int) -> str:
        if n % 3 == 0:
            with client.chat_stream(user(f"s{n}")) as stream:
                return stream_text(list(stream))
        answer = client.chat(user(f"c{n}"))
        content: str = answer["choices"][0]["message"]["content"]
        return content

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(120), timeout=60))
    assert results == [f"echo: {'s' if n % 3 == 0 else 'c'}{n}" for n in range(120)]


def test_slow_calls_overlap(client: aigw.Client) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(client.chat, user("p"), extra_headers=fault("delay_ms=500"))
            for _ in range(4)
        ]
        for future in futures:
            future.result(timeout=10)
    # Serialised by a held GIL (or a client-wide lock) this would take 2 s.
    assert time.monotonic() - started < 1.5
