"""The `anthropic` kind through the Python binding: OpenAI-shaped requests translated into
Anthropic Messages and answers, streams, tool calls and errors translated back; and streams of
both translated kinds (`anthropic`, `bedrock`) cancelled mid-way, sync and async."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import aigw
from conftest import API_KEY, MockGateway, fault, stream_text, user


def claude(mock: MockGateway, **overrides: Any) -> aigw.Client:
    profile: dict[str, Any] = {"kind": "anthropic", "base_url": mock.url, "api_key": API_KEY,
                               "model": "claude-sonnet-4-5", "retry_initial_backoff_ms": 50}
    profile.update(overrides)
    return aigw.Client(**profile)


def test_chat_is_translated_both_ways(mock: MockGateway) -> None:
    client = claude(mock)
    answer = client.chat([{"role": "system", "content": "Be brief."}, *user("hi there")], stop=["END"])
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "echo: hi there"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["aigw"]["usage"]["input_tokens"] == 2
    sent = mock.last_request()
    body = json.loads(sent["body"])
    assert sent["path"].endswith("/v1/messages")
    assert sent["headers"]["x-api-key"] == API_KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert body["system"] == "Be brief." and body["max_tokens"] == 4096
    assert body["stop_sequences"] == ["END"]


def test_streams_and_tool_calls(mock: MockGateway) -> None:
    client = claude(mock)
    with client.chat_stream(user("stream this")) as stream:
        chunks = list(stream)
    assert stream_text(chunks) == "echo: stream this"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and stream.meta["usage"]["output_tokens"] == 3
    answer = client.chat(user("x"), extra_headers=fault("tool_call=lookup:%7B%22q%22%3A1%7D"))
    call = answer["choices"][0]["message"]["tool_calls"][0]
    assert (call["function"]["name"], call["function"]["arguments"]) == ("lookup", '{"q":1}')
    assert answer["choices"][0]["finish_reason"] == "tool_calls"


def test_errors_carry_the_anthropic_error_type(mock: MockGateway) -> None:
    client = claude(mock, retry_max_attempts=1)
    with pytest.raises(aigw.ProviderError) as info:
        client.chat(user("x"), extra_headers=fault("status=529;error_type=overloaded_error"))
    assert (info.value.http_status, info.value.provider_code) == (529, "overloaded_error")
    with pytest.raises(aigw.AuthError):
        claude(mock, api_key="wrong-key-1234").chat(user("x"))
    with pytest.raises(aigw.ProtocolError, match="stream truncated"):
        list(client.chat_stream(user("x"), extra_headers=fault("truncate_after=4")))
    assert [m["id"] for m in client.list_models()][0] == "claude-sonnet-4-5"


# Eight one-character deltas of "echo: hi"; the mock stalls after its fourth event (Anthropic:
# message_start, content_block_start, ping, "e"; Bedrock: messageStart, "e", "c", "h").
STALLED = fault("chunks=8;stall_after=4;stall_ms=2000")
FULL_TEXT = "echo: hi"
TRANSLATED_KINDS = ("anthropic", "bedrock")


def translated_profile(mock: MockGateway, kind: str) -> dict[str, Any]:
    """A profile of `kind` on the mock that would retry (three attempts), so a retry would show."""
    profile: dict[str, Any] = {"kind": kind, "base_url": mock.url, "api_key": API_KEY,
                               "retry_max_attempts": 3, "retry_initial_backoff_ms": 50}
    if kind == "anthropic":
        profile["model"] = "claude-sonnet-4-5"
    else:
        profile["model"] = "anthropic.claude-3-haiku-20240307-v1:0"
        profile["models_endpoint"] = f"{mock.url}/foundation-models"
    return profile


def delta_text(chunk: dict[str, Any]) -> str:
    return "".join(c.get("delta", {}).get("content") or "" for c in chunk["choices"])


def assert_cut_short_and_closed(mock: MockGateway, text: str) -> None:
    """Only the text before the stall arrived; the mock saw the connection close (when it wrote
    again after its stall) and received one request: nothing was retried."""
    assert text and len(text) < len(FULL_TEXT) and FULL_TEXT.startswith(text), text
    stats = mock.wait_for_stats(lambda s: s["client_live"] == 0, seconds=10)
    assert stats["client_live"] == 0, "the connection was closed"
    assert len(mock.requests()) == 1, "no retry after the cancel"


@pytest.mark.parametrize("how", ["cancel", "close"])
@pytest.mark.parametrize("kind", TRANSLATED_KINDS)
def test_a_stalled_translated_stream_stopped_from_another_thread(
    kind: str, how: str, fresh_mock: MockGateway
) -> None:
    client = aigw.Client(**translated_profile(fresh_mock, kind))
    stream = client.chat_stream(user("hi"), extra_headers=STALLED)
    text = ""
    while not text:
        text += delta_text(next(stream))
    # The reading thread waits in the stall when the other thread stops the stream.
    timer = threading.Timer(0.2, getattr(stream, how))
    timer.start()
    try:
        with pytest.raises(aigw.CancelledError):
            for chunk in stream:
                text += delta_text(chunk)
    finally:
        timer.join(timeout=5)
    with pytest.raises(StopIteration):
        next(stream)
    assert_cut_short_and_closed(fresh_mock, text)


@pytest.mark.parametrize("kind", TRANSLATED_KINDS)
def test_cancelling_the_task_reading_a_stalled_translated_stream(
    kind: str, fresh_mock: MockGateway
) -> None:
    client = aigw.AsyncClient(**translated_profile(fresh_mock, kind))
    received: list[str] = []

    async def read() -> None:
        async with client.chat_stream(user("hi"), extra_headers=STALLED) as stream:
            async for chunk in stream:
                received.append(delta_text(chunk))

    async def main() -> None:
        task = asyncio.create_task(read())
        while not "".join(received):
            assert not task.done(), "the stream ended before its first text"
            await asyncio.sleep(0.01)
        # The task now waits in the stall.
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 10))
    assert_cut_short_and_closed(fresh_mock, "".join(received))
