"""The `anthropic` kind through the Python binding: OpenAI-shaped requests translated into
Anthropic Messages and answers, streams, tool calls and errors translated back."""

from __future__ import annotations

import json
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
