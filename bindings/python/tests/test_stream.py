"""Streaming: chunks and metadata, SSE framing edge cases, early close (with-exit, break,
close(), cancel()), errors mid-stream, and Ctrl-C between chunks."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

import aigw
from conftest import (
    MODEL,
    ClientFactory,
    MockGateway,
    client_for,
    fault,
    stream_text,
    user,
)

# Long enough that the mock is still sending when the client walks away.
LONG_STREAM = "chunks=400;content_len=2000"


def test_stream_yields_chunk_dicts(client: aigw.Client) -> None:
    with client.chat_stream(messages=user("stream me")) as stream:
        meta = stream.meta
        assert "usage" not in meta, "usage comes once the stream ended"
        chunks = list(stream)
        final = stream.meta
    assert stream_text(chunks) == "echo: stream me"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    # aigw asks for usage: the usage-only chunk comes last, and the final meta has it normalised.
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 2
    assert final["usage"]["input_tokens"] == 2 and final["usage"]["total_tokens"] == 5
    assert meta["status"] == 200
    assert meta["model"] == MODEL
    assert meta["cf_aig_log_id"].startswith("mocklog-")


def test_stream_without_with(client: aigw.Client) -> None:
    stream = client.chat_stream(user("plain"))
    assert iter(stream) is stream
    assert stream_text(list(stream)) == "echo: plain"
    with pytest.raises(StopIteration):
        next(stream)


@pytest.mark.parametrize(
    "spec",
    ["bom;crlf;comments", "cr;split_bytes", "utf8_split;split_bytes", "chunks=1"],
)
def test_sse_framing(client: aigw.Client, spec: str) -> None:
    chunks = list(client.chat_stream(user("framing"), extra_headers=fault(spec)))
    expected = "aéb中c🦀dé" * 2 if "utf8_split" in spec else "echo: framing"
    assert stream_text(chunks) == expected


def test_buffered_json_answer_is_one_item(client: aigw.Client) -> None:
    chunks = list(client.chat_stream(user("buffered"), extra_headers=fault("json_for_stream")))
    assert len(chunks) == 1
    assert chunks[0]["object"] == "chat.completion"


def test_truncated_stream_is_protocol_error(client: aigw.Client) -> None:
    received: list[dict[str, Any]] = []
    with pytest.raises(aigw.ProtocolError, match="truncated"):
        for chunk in client.chat_stream(user("cut"), extra_headers=fault("truncate_after=2")):
            received.append(chunk)
    assert len(received) == 2


def test_error_frame_is_typed(client: aigw.Client) -> None:
    stream = client.chat_stream(user("x"), extra_headers=fault("sse_error_frame"))
    with pytest.raises(aigw.AigwError) as info:
        list(stream)
    assert info.value.code == "PROVIDER"
    assert info.value.provider_code == "overloaded"
    with pytest.raises(StopIteration):
        next(stream)


def test_malformed_sse_is_protocol_error(client: aigw.Client) -> None:
    with pytest.raises(aigw.ProtocolError):
        list(client.chat_stream(user("x"), extra_headers=fault("malformed_sse")))


def test_reset_mid_stream_is_connection_error(client: aigw.Client) -> None:
    with pytest.raises(aigw.ConnectionError):
        list(client.chat_stream(user("x"), extra_headers=fault("chunks=5;reset_after=2")))


def test_stream_idle_timeout(make_client: ClientFactory) -> None:
    client = make_client(stream_idle_timeout_ms=1000)
    started = time.monotonic()
    with pytest.raises(aigw.TimeoutError, match="stream_idle"):
        list(client.chat_stream(user("x"), extra_headers=fault("stall_after=1;stall_ms=4000")))
    assert time.monotonic() - started < 3.5


def test_error_before_the_stream_opens(make_client: ClientFactory) -> None:
    with pytest.raises(aigw.RateLimitError):
        make_client(retry_max_attempts=1).chat_stream(user("x"), extra_headers=fault("status=429"))


def test_chat_refuses_stream_true(client: aigw.Client) -> None:
    with pytest.raises(aigw.InvalidArgumentError, match="chat_stream"):
        client.chat(user("x"), stream=True)
    assert stream_text(list(client.chat_stream(user("ok"), stream=True))) == "echo: ok"


def live(stats: dict[str, int]) -> int:
    return stats["client_live"]


def test_leaving_with_closes_the_connection(fresh_mock: MockGateway) -> None:
    client = client_for(fresh_mock)
    with client.chat_stream(user("x"), extra_headers=fault(LONG_STREAM)) as stream:
        next(stream)
        assert live(fresh_mock.wait_for_stats(lambda s: live(s) == 1)) == 1
    # `stream` is still referenced: the close came from __exit__, not from garbage collection.
    assert live(fresh_mock.wait_for_stats(lambda s: live(s) == 0)) == 0
    with pytest.raises(StopIteration):
        next(stream)
    assert "closed" in repr(stream)


def test_breaking_out_closes_the_connection(fresh_mock: MockGateway) -> None:
    client = client_for(fresh_mock)
    for _chunk in client.chat_stream(user("x"), extra_headers=fault(LONG_STREAM)):
        break
    assert live(fresh_mock.wait_for_stats(lambda s: live(s) == 0)) == 0


def test_close_is_idempotent(fresh_mock: MockGateway) -> None:
    stream = client_for(fresh_mock).chat_stream(user("x"), extra_headers=fault(LONG_STREAM))
    next(stream)
    stream.close()
    stream.close()
    assert live(fresh_mock.wait_for_stats(lambda s: live(s) == 0)) == 0
    assert list(stream) == []


def test_finished_stream_keeps_the_connection_for_reuse(fresh_mock: MockGateway) -> None:
    client = client_for(fresh_mock)
    for _ in range(3):
        assert stream_text(list(client.chat_stream(user("again")))) == "echo: again"
    assert fresh_mock.stats()["client_opened"] == 1


def test_cancel_from_another_thread(fresh_mock: MockGateway) -> None:
    stream = client_for(fresh_mock).chat_stream(user("x"), extra_headers=fault(LONG_STREAM))
    next(stream)
    canceller = threading.Thread(target=stream.cancel)
    canceller.start()
    canceller.join(timeout=5)
    with pytest.raises(aigw.CancelledError):
        next(stream)
    assert live(fresh_mock.wait_for_stats(lambda s: live(s) == 0)) == 0
    with pytest.raises(StopIteration):
        next(stream)


def test_cancel_while_another_thread_is_blocked_reading(client: aigw.Client) -> None:
    stream = client.chat_stream(user("x"), extra_headers=fault("stall_after=1;stall_ms=1500"))
    next(stream)
    timer = threading.Timer(0.2, stream.close)
    timer.start()
    started = time.monotonic()
    with pytest.raises(aigw.CancelledError):
        for _ in stream:
            pass
    timer.join(timeout=5)
    assert time.monotonic() - started < 5


def test_ctrl_c_between_chunks(client: aigw.Client) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    stream = client.chat_stream(
        user("x"), extra_headers=fault("chunks=50;content_len=200;stall_after=2;stall_ms=800")
    )
    received = [next(stream), next(stream)]
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for chunk in stream:
                received.append(chunk)
    finally:
        timer.join(timeout=5)
        stream.close()
    assert len(received) < 50
