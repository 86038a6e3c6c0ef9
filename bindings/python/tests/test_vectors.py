"""Replays the language-neutral vectors in tests/vectors/: kind and route resolution, credential
precedence, the docs/contract.md §8 error table, and (through the mock gateway) the gateway
calls and doctor cases and the protocol translations with their retries."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aigw
from conftest import API_KEY, MockGateway, load_vectors, user

ROUTES = load_vectors("routes.json")
CREDENTIALS = load_vectors("credentials.json")
ERRORS = load_vectors("errors.json")


def check_message(error: BaseException, case: dict[str, Any]) -> None:
    for text in case.get("message_contains", []):
        assert text in str(error), case["name"] if "name" in case else case
    for secret in case.get("message_excludes", []):
        assert secret not in str(error) and secret not in repr(error)
    if "message" in case:
        assert str(error) == case["message"]


@pytest.mark.parametrize("case", ROUTES["kinds"], ids=lambda c: repr(c["input"]))
def test_kind_resolution(case: dict[str, Any]) -> None:
    if "id" in case:
        assert aigw.resolve_kind(case["input"])["id"] == case["id"]
        return
    with pytest.raises(aigw.AigwError) as info:
        aigw.resolve_kind(case["input"])
    assert info.value.code == case["error"]
    check_message(info.value, case)


@pytest.mark.parametrize("case", ROUTES["routes"], ids=lambda c: c["name"])
def test_route(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "route-vector-key")
    if "error" in case:
        with pytest.raises(aigw.AigwError) as info:
            aigw.Client(**case["profile"])
        assert info.value.code == case["error"]
        check_message(info.value, case)
        return
    client = aigw.Client(**case["profile"])
    route = client.describe()["route"]
    for field, expected in case["expect"].items():
        assert route[field] == expected, field
    if not case["expect"]["resolved"]:
        # Unresolved placeholders fail every network call before any I/O, with the hint.
        with pytest.raises(aigw.ConfigError) as info:
            client.chat(user("hi"))
        assert str(info.value) == case["expect"]["hint"]


def credential_env_names() -> set[str]:
    """Every variable any credentials case could read, so each case sees only its own."""
    names: set[str] = set()
    for case in CREDENTIALS["cases"]:
        names.update(case["env"])
        profile = case["profile"]
        kind = aigw.resolve_kind(profile["kind"])
        names.update(kind["credential_envs"])
        if profile.get("api_key_env"):
            names.add(profile["api_key_env"])
        api_key = profile.get("api_key")
        if isinstance(api_key, dict) and "env" in api_key:
            names.add(api_key["env"])
    return names


@pytest.mark.parametrize("case", CREDENTIALS["cases"], ids=lambda c: c["name"])
def test_credentials(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in credential_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in case["env"].items():
        monkeypatch.setenv(name, value)
    client = aigw.Client(**case["profile"])
    credentials = client.describe()["credentials"]
    if "expect" in case:
        assert credentials["status"] == "resolved"
        assert credentials["source"] == case["expect"]["source"]
        assert credentials["key_pool_size"] == case["expect"]["key_pool_size"]
        for key in (k for k in case["expect"]["keys"] if len(k) >= 5):
            assert key not in repr(client)
            assert key not in repr(credentials)
        return
    assert credentials["status"] == "missing"
    # Every network call fails before any I/O with MISSING_CREDENTIALS.
    with pytest.raises(aigw.AigwError) as info:
        client.chat(user("hi"))
    assert info.value.code == case["error"]
    assert isinstance(info.value, aigw.MissingCredentialsError)
    check_message(info.value, case)
    assert info.value.attempts == []


@pytest.mark.parametrize("entry", ERRORS["codes"], ids=lambda e: e["code"])
def test_error_table(entry: dict[str, Any]) -> None:
    classes = {
        cls.code: cls
        for cls in (getattr(aigw, name) for name in aigw.__all__)
        if isinstance(cls, type) and issubclass(cls, aigw.AigwError) and cls is not aigw.AigwError
    }
    if entry["python"] is None:
        assert entry["code"] not in classes
        return
    cls = getattr(aigw, entry["python"])
    assert issubclass(cls, aigw.AigwError)
    assert cls.code == entry["code"]
    assert classes[entry["code"]] is cls
    assert cls.__module__ == "aigw"
    if entry["python_builtin"]:
        builtin = getattr(builtins, entry["python_builtin"])
        assert issubclass(cls, builtin)
        assert cls is not builtin
    error = cls("message", http_status=500, request_id="r-1")
    assert (error.code, error.message, str(error)) == (entry["code"], "message", "message")
    assert (error.http_status, error.request_id, error.attempts) == (500, "r-1", [])
    assert (error.provider_code, error.retry_after_ms) == (None, None)


def test_error_table_is_complete() -> None:
    exported = {
        name
        for name in aigw.__all__
        if isinstance(getattr(aigw, name), type) and issubclass(getattr(aigw, name), aigw.AigwError)
    }
    in_table = {e["python"] for e in ERRORS["codes"] if e["python"]}
    assert exported == in_table | {"AigwError"}
    assert {e["code"] for e in ERRORS["codes"]} >= {"OK", "DONE"}


GATEWAY = load_vectors("gateway.json")


def with_origin(value: Any, origin: str) -> Any:
    """`value` with `{origin}` in every string replaced by the mock's address."""
    if isinstance(value, str):
        return value.replace("{origin}", origin)
    if isinstance(value, list):
        return [with_origin(v, origin) for v in value]
    if isinstance(value, dict):
        return {k: with_origin(v, origin) for k, v in value.items()}
    return value


@pytest.fixture
def vector_mock(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MockGateway]:
    gateway = MockGateway(tmp_path, flags=tuple(request.param["mock_args"]))
    yield gateway
    gateway.stop()


def with_vector_mock(cases: list[dict[str, Any]]) -> pytest.MarkDecorator:
    """Parametrizes a test over `cases`, each with a mock started from its `mock_args`."""
    return pytest.mark.parametrize(
        ("case", "vector_mock"),
        [(c, c) for c in cases],
        ids=[c["name"] for c in cases],
        indirect=["vector_mock"],
    )


@pytest.mark.parametrize("case", GATEWAY["options"], ids=lambda c: c["name"])
def test_gateway_options(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(aigw.AigwError) as info:
            aigw.Client(**case["profile"])
        assert info.value.code == case["error"]
        check_message(info.value, case)
        return
    assert aigw.Client(**case["profile"]).describe()["gateway_headers"] == case["expect_headers"]


def chat_requests(gateway: MockGateway) -> int:
    return sum(1 for r in gateway.requests() if r["path"].endswith("/chat/completions"))


@with_vector_mock(GATEWAY["calls"])
def test_gateway_calls(case: dict[str, Any], vector_mock: MockGateway) -> None:
    client = aigw.Client(**with_origin(case["profile"], vector_mock.url))
    options = case["options"]
    kwargs: dict[str, Any] = {}
    if "gateway" in options:
        kwargs["gateway"] = options["gateway"]
    if "headers" in options:
        kwargs["extra_headers"] = options["headers"]
    if "error" in case:
        want = case["error"]
        with pytest.raises(aigw.AigwError) as info:
            client.chat(user("hi"), **kwargs)
        error = info.value
        assert error.code == want["code"], str(error)
        if "provider_code" in want:
            assert error.provider_code == want["provider_code"]
        if "http_status" in want:
            assert error.http_status == want["http_status"]
        check_message(error, want)
        if "key_indexes" in want:
            assert [a["key_index"] for a in error.attempts] == want["key_indexes"]
    else:
        meta = client.chat(user("hi"), **kwargs)["aigw"]
        for field, expected in case.get("expect_meta", {}).items():
            if field == "attempts_key_indexes":
                assert [a["key_index"] for a in meta["attempts"]] == expected
            elif field == "attempts_statuses":
                assert [a["status"] for a in meta["attempts"]] == expected
            else:
                assert meta[field] == expected, field
        for field in case.get("expect_meta_absent", []):
            assert field not in meta, field
    if "sent_headers" in case:
        headers = vector_mock.last_request()["headers"]
        for name, value in case["sent_headers"].items():
            assert headers.get(name) == value, name
    assert chat_requests(vector_mock) == case["chat_requests"]


@with_vector_mock(GATEWAY["doctor"])
def test_gateway_doctor(case: dict[str, Any], vector_mock: MockGateway) -> None:
    report = aigw.Client(**with_origin(case["profile"], vector_mock.url)).doctor()
    if "status" in case:
        assert report["status"] == case["status"], report
    (check,) = [c for c in report["checks"] if c["name"] == case["check"]]
    assert check["status"] == case["check_status"], check
    for part in case.get("detail_contains", []):
        assert part in check["detail"], check["detail"]
    for part in case.get("detail_excludes", []):
        assert part not in check["detail"]


PROTOCOLS = load_vectors("protocols.json")


def protocol_client(mock: MockGateway, kind: str, **overrides: Any) -> aigw.Client:
    profile = with_origin(PROTOCOLS["profiles"][kind], mock.url)
    profile["api_key"] = API_KEY
    profile.update(overrides)
    return aigw.Client(**profile)


def statuses(attempts: list[dict[str, Any]]) -> list[Any]:
    return [a["status"] for a in attempts]


def protocol_outcome(client: aigw.Client, fault_spec: str, stream: bool) -> dict[str, Any]:
    """Text, tool name and arguments, finish reason, usage and attempt statuses of an answer or
    a whole stream."""
    headers = {"x-mock-fault": fault_spec}
    if not stream:
        answer = client.chat(user("hi"), extra_headers=headers)
        message = answer["choices"][0]["message"]
        calls = message.get("tool_calls") or [{}]
        return {"content": message["content"], "tool_name": calls[0].get("function", {}).get("name"),
                "tool_arguments": calls[0].get("function", {}).get("arguments"),
                "finish_reason": answer["choices"][0]["finish_reason"], "usage": answer["aigw"]["usage"],
                "attempts_statuses": statuses(answer["aigw"]["attempts"])}
    text, name, args, finish = "", None, "", None
    with client.chat_stream(user("hi"), extra_headers=headers) as s:
        for chunk in s:
            for choice in chunk["choices"]:
                delta = choice.get("delta", {})
                text += delta.get("content") or ""
                for call in delta.get("tool_calls") or []:
                    name = call.get("function", {}).get("name") or name
                    args += call.get("function", {}).get("arguments") or ""
                finish = choice.get("finish_reason") or finish
        usage = s.meta["usage"]
        attempts = statuses(s.meta["attempts"])
    return {"content": text or None, "tool_name": name, "tool_arguments": args or None,
            "finish_reason": finish, "usage": usage, "attempts_statuses": attempts}


@pytest.mark.parametrize("case", PROTOCOLS["requests"], ids=lambda c: c["name"])
def test_protocol_requests(case: dict[str, Any], mock: MockGateway) -> None:
    protocol_client(mock, case["kind"]).chat(**case["request"])
    assert json.loads(mock.last_request()["body"]) == case["upstream"]


@pytest.mark.parametrize("case", PROTOCOLS["answers"], ids=lambda c: c["name"])
def test_protocol_answers(case: dict[str, Any], mock: MockGateway) -> None:
    got = protocol_outcome(protocol_client(mock, case["kind"]), case["fault"], case["stream"])
    for field, want in case["expect"].items():
        assert got[field] == want, field


@pytest.mark.parametrize("case", PROTOCOLS["errors"], ids=lambda c: c["name"])
def test_protocol_errors(case: dict[str, Any], mock: MockGateway) -> None:
    with pytest.raises(aigw.AigwError) as info:
        protocol_outcome(protocol_client(mock, case["kind"]), case["fault"], case["stream"])
    assert info.value.code == case["code"], str(info.value)
    if "provider_code" in case:
        assert info.value.provider_code == case["provider_code"]
    check_message(info.value, case)


@pytest.mark.parametrize("case", PROTOCOLS["retries"], ids=lambda c: c["name"])
def test_protocol_retries(case: dict[str, Any], fresh_mock: MockGateway) -> None:
    # A mock of its own: its request count and per-tag fault counters start empty.
    client = protocol_client(fresh_mock, case["kind"], **PROTOCOLS["retry_profile"])
    if "error" in case:
        want = case["error"]
        with pytest.raises(aigw.AigwError) as info:
            protocol_outcome(client, case["fault"], case["stream"])
        error = info.value
        assert error.code == want["code"], str(error)
        assert error.provider_code == want["provider_code"]
        assert error.http_status == want["http_status"]
        assert statuses(error.attempts) == want["attempts_statuses"]
    else:
        got = protocol_outcome(client, case["fault"], case["stream"])
        for field, want in case["expect"].items():
            assert got[field] == want, field
    assert len(fresh_mock.requests()) == case["requests"]
