"""Every error code raised for real, through the mock gateway where one is involved: the class,
its builtin base, and the attributes docs/contract.md §8 requires."""

from __future__ import annotations

import builtins
import json
import socket
import time
from typing import Any

import pytest

import aigw
from conftest import (
    API_KEY,
    ClientFactory,
    MockGateway,
    fault,
    load_vectors,
    user,
)

HTTP_TABLE = load_vectors("errors.json")["http"]


@pytest.mark.parametrize("entry", HTTP_TABLE, ids=lambda e: str(e["status"]))
def test_http_status_maps_to_its_class(
    entry: dict[str, Any], make_client: ClientFactory, mock: MockGateway
) -> None:
    status = entry["status"]
    client = make_client(retry_max_attempts=1)
    with pytest.raises(aigw.AigwError) as info:
        client.chat(user("hi"), extra_headers=fault(f"status={status}"))
    error = info.value
    assert error.code == entry["code"]
    assert type(error).code == entry["code"]
    assert error.http_status == status
    assert error.provider_code == f"mock_{status}"
    assert error.request_id and error.request_id.startswith(("req-", "mocklog-"))
    assert [a["status"] for a in error.attempts] == [status]
    assert error.attempts[0]["error"] == entry["code"]
    assert str(status) in str(error) or "mock status" in str(error)


def test_wrong_key_is_auth_error_with_gateway_code(make_client: ClientFactory) -> None:
    client = make_client(api_key="not-the-right-key")
    with pytest.raises(aigw.AuthError) as info:
        client.chat(user("hi"))
    assert info.value.http_status == 401
    assert info.value.provider_code == "invalid_api_key"
    assert "not-the-right-key" not in str(info.value)
    assert "not-the-right-key" not in repr(info.value)


def test_rate_limit_carries_retry_after(make_client: ClientFactory) -> None:
    client = make_client()
    started = time.monotonic()
    with pytest.raises(aigw.RateLimitError) as info:
        client.chat(user("hi"), extra_headers=fault("status=429;retry_after_ms=60000"))
    # A server delay above retry_max_backoff_ms is not slept: the call fails at once.
    assert time.monotonic() - started < 5
    assert info.value.retry_after_ms == 60000
    assert info.value.http_status == 429
    assert len(info.value.attempts) == 1


def test_retries_then_succeeds(make_client: ClientFactory) -> None:
    client = make_client(retry_max_attempts=3)
    answer = client.chat(user("hi"), extra_headers=fault("status=503;tag=retry-ok;times=1"))
    assert [a["status"] for a in answer["aigw"]["attempts"]] == [503, 200]


def test_unknown_model_is_provider_error(make_client: ClientFactory) -> None:
    with pytest.raises(aigw.ProviderError) as info:
        make_client().chat(user("hi"), model="openai/no-such-model")
    assert info.value.http_status == 404
    assert info.value.provider_code == "model_not_found"


def test_invalid_provider_envelope(make_client: ClientFactory) -> None:
    with pytest.raises(aigw.ProviderError) as info:
        make_client().chat(user("hi"), model="nonsense")
    assert info.value.http_status == 400
    assert info.value.provider_code == "2008"


def test_unresolved_route_is_config_error_before_io() -> None:
    client = aigw.Client(kind="cloudflare", api_key="k", model="m")
    with pytest.raises(aigw.ConfigError) as info:
        client.chat(user("hi"))
    assert isinstance(info.value, ValueError)
    assert "<account_id>" in str(info.value)


def test_bad_profile_is_config_error() -> None:
    with pytest.raises(aigw.ConfigError, match="kind"):
        aigw.Client()
    with pytest.raises(aigw.ConfigError, match="provider.base_ur"):
        aigw.Client(kind="cloudflare", base_ur="https://x")
    with pytest.raises(aigw.ConfigError, match="retry_max_attempts"):
        aigw.Client(kind="cloudflare", retry_max_attempts="three")


def test_unsupported_request_feature(mock: MockGateway) -> None:
    # Every protocol is served; what stays UNSUPPORTED is a request feature a protocol has no
    # form for, named in the message, refused before any I/O.
    client = aigw.Client(kind="anthropic", base_url=mock.url, api_key=API_KEY, model="claude-sonnet-4-5")
    before = len(mock.requests())
    with pytest.raises(aigw.UnsupportedError, match="`n`"):
        client.chat(user("hi"), n=2)
    assert len(mock.requests()) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": [{"role": "user", "content": {1, 2}}]},
        {"messages": [{"role": "user", "content": b"bytes"}]},
        {"messages": [{1: "non-str key"}]},
        {"messages": user("hi"), "temperature": float("nan")},
        {"messages": user("hi"), "seed": 2**70},
        {"messages": user("hi"), "stream": True},
        {"messages": user("hi"), "model": 5},
        {"messages": user("hi"), "timeout": -1.0},
        {"messages": user("hi"), "timeout": float("inf")},
        {"messages": user("hi"), "extra_headers": {"X-Bad": "a\r\nInjected: 1"}},
        {"messages": user("hi"), "gateway": {"cache_ttl": 1}},
    ],
    ids=lambda kwargs: ",".join(f"{k}={v!r}"[:40] for k, v in kwargs.items() if k != "messages")
    or repr(kwargs["messages"])[:40],
)
def test_invalid_arguments(kwargs: dict[str, Any], make_client: ClientFactory, mock: MockGateway) -> None:
    mock.reset()
    with pytest.raises(aigw.AigwError) as info:
        make_client().chat(**kwargs)
    assert isinstance(info.value, ValueError)
    assert info.value.code in ("INVALID_ARGUMENT", "CONFIG")
    assert mock.requests() == [], "invalid input must fail before any I/O"


def test_invalid_argument_names_the_location(client: aigw.Client) -> None:
    with pytest.raises(aigw.InvalidArgumentError) as info:
        client.chat([{"role": "user", "content": [{"type": "text", "text": object()}]}])
    assert str(info.value).startswith("messages[0].content[0].text: unsupported type object")


def test_invalid_keyword_argument_is_named(client: aigw.Client) -> None:
    with pytest.raises(aigw.InvalidArgumentError) as info:
        client.chat(user("hi"), metadata={"when": object()})
    assert str(info.value).startswith("metadata.when: unsupported type object")


def test_self_referencing_request_is_refused(client: aigw.Client) -> None:
    message: dict[str, Any] = {"role": "user"}
    message["content"] = [message]
    with pytest.raises(aigw.InvalidArgumentError, match="nested deeper"):
        client.chat([message])


def test_timeout(make_client: ClientFactory) -> None:
    client = make_client(retry_max_attempts=1)
    started = time.monotonic()
    with pytest.raises(aigw.TimeoutError) as info:
        client.chat(user("hi"), timeout=0.3, extra_headers=fault("delay_ms=3000"))
    assert time.monotonic() - started < 2.5
    assert isinstance(info.value, builtins.TimeoutError)
    assert "response" in str(info.value)


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = aigw.Client(
        kind="cloudflare",
        base_url=f"http://127.0.0.1:{port}/v1/acc/gw/openai/compat",
        api_key=API_KEY,
        model="openai/gpt-4o-mini",
        retry_max_attempts=1,
    )
    with pytest.raises(aigw.ConnectionError) as info:
        client.chat(user("hi"))
    assert isinstance(info.value, builtins.ConnectionError)
    assert info.value.http_status is None


def test_malformed_json_is_protocol_error(client: aigw.Client) -> None:
    with pytest.raises(aigw.ProtocolError):
        client.chat(user("hi"), extra_headers=fault("malformed_json"))


def test_catalog_failure_is_model_selection_error(make_client: ClientFactory) -> None:
    client = make_client(
        model="auto", retry_max_attempts=1, headers=fault("models:status=500")
    )
    with pytest.raises(aigw.ModelSelectionError) as info:
        client.chat(user("hi"))
    assert "pin an explicit provider.model or add preferred_models" in str(info.value)


def test_errors_pickle_with_their_attributes(make_client: ClientFactory) -> None:
    import pickle

    with pytest.raises(aigw.ProviderError) as info:
        make_client(retry_max_attempts=1).chat(user("hi"), extra_headers=fault("status=500"))
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is aigw.ProviderError
    assert (clone.code, clone.http_status, clone.attempts) == (
        "PROVIDER",
        500,
        info.value.attempts,
    )


def test_key_never_leaks(make_client: ClientFactory) -> None:
    client = make_client(gateway={"authorization": "gw-token-secret-77"})
    texts = [repr(client), json.dumps(client.describe()), json.dumps(client.doctor())]
    with pytest.raises(aigw.AigwError) as info:
        client.chat(user("hi"), extra_headers=fault("status=500"))
    texts += [str(info.value), repr(info.value), repr(info.value.__dict__)]
    for text in texts:
        assert API_KEY not in text
        assert "gw-token-secret-77" not in text
