"""`aigw.AsyncClient` (docs/contract.md §13, §17): the same calls as `Client`, awaited without
blocking the loop; cancelling the awaiting task closes the request's connection and nothing is
retried after it; many streams run at once on aigw's own pool."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import aigw
from conftest import API_KEY, MODEL, MockGateway, fault, stream_text, user


def async_client(mock: MockGateway, **overrides: Any) -> aigw.AsyncClient:
    profile: dict[str, Any] = {
        "kind": "cloudflare",
        "base_url": mock.base_url(),
        "api_key": API_KEY,
        "model": MODEL,
        "retry_initial_backoff_ms": 50,
        "retry_max_backoff_ms": 200,
    }
    profile.update(overrides)
    return aigw.AsyncClient(**profile)


def test_calls_return_what_client_returns(mock: MockGateway) -> None:
    client = async_client(mock)
    sync = aigw.Client(**{"kind": "cloudflare", "base_url": mock.base_url(), "api_key": API_KEY, "model": MODEL})

    async def main() -> None:
        answer = await client.chat(user("hello async"), temperature=0)
        assert answer["choices"][0]["message"]["content"] == "echo: hello async"
        assert answer["aigw"]["usage"]["input_tokens"] == 2
        models = await client.list_models()
        assert [m["id"] for m in models] == [m["id"] for m in sync.list_models()]
        vectors = await client.embeddings("one two", model="openai/text-embedding-3-small")
        assert len(vectors["data"][0]["embedding"]) == 8
        report = await client.doctor()
        assert report["status"] == "pass"
        assert client.describe()["route"] == sync.describe()["route"]
        assert "runtime" in client.describe()

    asyncio.run(main())


def test_errors_are_the_same_exceptions(mock: MockGateway) -> None:
    client = async_client(mock)

    async def main() -> None:
        with pytest.raises(aigw.ProviderError) as info:
            await client.chat(user("x"), extra_headers=fault("status=400"))
        assert info.value.http_status == 400
        with pytest.raises(aigw.InvalidArgumentError, match="call chat_stream"):
            await client.chat(user("x"), stream=True)
        with pytest.raises(aigw.InvalidArgumentError):
            await client.chat(user("x"), timeout=-1)
        with pytest.raises(aigw.ModelSelectionError):
            await client.embeddings("x")

    asyncio.run(main())
    with pytest.raises(aigw.ConfigError):
        aigw.AsyncClient(kind="cloudfare")


def test_streams_are_async_iterators_and_context_managers(mock: MockGateway) -> None:
    client = async_client(mock)

    async def main() -> None:
        async with client.chat_stream(user("stream me")) as stream:
            assert stream.meta is not None and stream.meta["status"] == 200
            chunks = [chunk async for chunk in stream]
        assert stream_text(chunks) == "echo: stream me"
        assert stream.meta is not None and stream.meta["usage"]["input_tokens"] == 2
        plain = [chunk async for chunk in client.chat_stream(user("no with"))]
        assert stream_text(plain) == "echo: no with"

    asyncio.run(main())


def test_chunks_that_arrive_together_come_in_one_hop(mock: MockGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """400 small events written back to back: the same chunks, in order, as the sync client
    reads, in far fewer hops to the loop than chunks; an error after a batch still surfaces."""
    client = async_client(mock)
    hops = 0
    original = aigw._async._await

    async def counted(start: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await original(start, *args, **kwargs)

    monkeypatch.setattr(aigw._async, "_await", counted)
    spec = fault("chunks=400;content_len=400")

    async def main() -> None:
        chunks = [chunk async for chunk in client.chat_stream(user("x"), extra_headers=spec)]
        sync = list(aigw.Client(**{"kind": "cloudflare", "base_url": mock.base_url(), "api_key": API_KEY,
                                   "model": MODEL}).chat_stream(user("x"), extra_headers=spec))
        assert len(chunks) == len(sync) == 401
        assert stream_text(chunks) == stream_text(sync)
        assert hops < 100, f"{hops} hops for 401 chunks"
        seen = []
        with pytest.raises(aigw.ProtocolError):
            async for chunk in client.chat_stream(user("x"), extra_headers=fault("chunks=300;truncate_after=150")):
                seen.append(chunk)
        assert 0 < len(seen) < 300

    asyncio.run(asyncio.wait_for(main(), 30))


def test_cancel_and_aclose_drop_chunks_received_but_not_handed_out(mock: MockGateway) -> None:
    client = async_client(mock)

    async def main() -> None:
        stream = client.chat_stream(user("x"), extra_headers=fault("chunks=300"))
        await stream.__anext__()
        stream.cancel()
        with pytest.raises(aigw.CancelledError):
            await stream.__anext__()
        closed = client.chat_stream(user("x"), extra_headers=fault("chunks=300"))
        await closed.__anext__()
        await closed.aclose()
        with pytest.raises(StopAsyncIteration):
            await closed.__anext__()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_calls_that_finish_together_are_settled_in_one_loop_callback(mock: MockGateway) -> None:
    """Workers queue finished calls without the GIL; one reader callback settles them all."""
    client = async_client(mock)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        queue = aigw._async._completions(loop)
        drains = 0
        original = queue.drain

        def counted() -> None:
            nonlocal drains
            drains += 1
            original()

        loop.remove_reader(queue.fileno())
        loop.add_reader(queue.fileno(), counted)
        tasks = [asyncio.create_task(client.chat(user(f"n{i}"))) for i in range(50)]
        await asyncio.sleep(0)  # the tasks start their calls
        # Block the loop (synchronously) until every call finished and waits in the queue.
        deadline = time.monotonic() + 20
        while queue.pending() < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.pending() == 50
        answers = await asyncio.gather(*tasks)
        assert [a["choices"][0]["message"]["content"] for a in answers] == [f"echo: n{i}" for i in range(50)]
        assert drains == 1
        assert queue.pending() == 0

    asyncio.run(asyncio.wait_for(main(), 30))


def test_the_loop_keeps_running_while_a_call_waits(mock: MockGateway) -> None:
    client = async_client(mock)

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await client.chat(user("slow"), extra_headers=fault("delay_ms=500"))
        task.cancel()
        return ticks

    # A blocked loop would tick 0 times; bounded generously so a busy machine passes.
    assert asyncio.run(main()) >= 5


def test_cancelling_the_task_closes_the_connection_and_nothing_retries(fresh_mock: MockGateway) -> None:
    client = async_client(fresh_mock, retry_max_attempts=3)
    before = fresh_mock.stats()

    async def main() -> float:
        task = asyncio.create_task(client.chat(user("cancel me"), extra_headers=fault("delay_ms=5000")))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0
    stats = fresh_mock.wait_for_stats(lambda s: s["connections_closed"] > before["connections_closed"])
    assert stats["connections_closed"] > before["connections_closed"], "the connection was closed"
    time.sleep(0.5)
    assert len(fresh_mock.requests()) == 1, "no retry after the cancel"


def test_asyncio_timeout_cancels_the_request(fresh_mock: MockGateway) -> None:
    client = async_client(fresh_mock, retry_max_attempts=3)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.chat(user("t"), extra_headers=fault("delay_ms=5000")), 0.3)

    asyncio.run(main())
    time.sleep(0.5)
    assert len(fresh_mock.requests()) == 1


def test_cancelling_a_stream_read_and_stream_cancel(mock: MockGateway) -> None:
    client = async_client(mock)

    async def main() -> None:
        stream = client.chat_stream(user("x"), extra_headers=fault("chunks=50;stall_after=2;stall_ms=5000"))
        async with stream:
            await stream.__anext__()
            read = asyncio.create_task(stream.__anext__())
            await asyncio.sleep(0.05)
            stream.cancel()
            with pytest.raises((aigw.CancelledError, StopAsyncIteration)):
                while True:
                    await read
                    read = asyncio.create_task(stream.__anext__())

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_thousand_streams_are_in_flight_at_once(fresh_mock: MockGateway) -> None:
    client = async_client(fresh_mock)
    n = 1000
    fresh_mock.reset()
    # Each stream sends one chunk, then stalls: once every stream has its first chunk, all of
    # them hold a connection at the same moment (a count, not a timing).
    held = fault("chunks=4;stall_after=1;stall_ms=30000")

    async def main() -> tuple[list[str], int]:
        streams = [client.chat_stream(user(f"s{i}"), extra_headers=held) for i in range(n)]
        firsts = await asyncio.gather(*(s.__anext__() for s in streams))
        peak = fresh_mock.stats()["connections_peak"]
        await asyncio.gather(*(s.aclose() for s in streams))
        return [c["choices"][0]["delta"]["content"] for c in firsts], peak

    firsts, peak = asyncio.run(asyncio.wait_for(main(), 60))
    assert len(firsts) == n
    assert peak >= n
    assert client.describe()["runtime"]["max_threads"] == 10_000


def test_exiting_with_calls_in_flight_does_not_crash(mock: MockGateway) -> None:
    # Workers that finish while the interpreter shuts down must not touch Python (a thread that
    # attaches during finalization is killed mid-call, which aborted the process).
    import subprocess
    import sys

    script = f"""
import asyncio, aigw
client = aigw.AsyncClient(kind="cloudflare", base_url={mock.base_url()!r}, api_key={API_KEY!r},
                          model={MODEL!r})
async def main():
    for i in range(40):
        asyncio.ensure_future(client.chat([{{"role": "user", "content": "x"}}],
                              extra_headers={{"x-mock-fault": "delay_ms=" + str(50 + 10 * i)}}))
    await asyncio.sleep(0.1)
asyncio.run(main())
"""
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
