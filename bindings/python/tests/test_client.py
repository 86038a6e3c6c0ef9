"""The client surface through the mock gateway: chat, request pass-through, per-request
options, list_models, describe, doctor, config files, and the module-level functions."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import pytest

import aigw
from conftest import (
    ACCOUNT,
    API_KEY,
    GATEWAY,
    MODEL,
    ROOT,
    ClientFactory,
    MockGateway,
    user,
)


def test_chat_returns_the_openai_shape_plus_meta(client: aigw.Client) -> None:
    answer = client.chat(messages=user("hello there"))
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "echo: hello there"}
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert isinstance(answer["usage"]["total_tokens"], int)
    meta = answer["aigw"]
    assert meta["status"] == 200
    assert meta["model"] == MODEL
    assert meta["request_id"].startswith("req-")
    assert meta["cf_aig_log_id"].startswith("mocklog-")
    assert meta["cache_status"] == "MISS"
    assert [a["status"] for a in meta["attempts"]] == [200]


def test_request_is_passed_through_untouched(client: aigw.Client, mock: MockGateway) -> None:
    mock.reset()
    extra: dict[str, Any] = {"nested": [1, 2.5, None, True, "x", {"deep": []}], "big": 2**63}
    client.chat(user("hi"), temperature=0.25, user="u-1", custom_field=extra)
    body = json.loads(mock.last_request()["body"])
    assert body == {
        "messages": user("hi"),
        "temperature": 0.25,
        "user": "u-1",
        "custom_field": extra,
        "model": MODEL,
    }


def test_messages_accept_any_sequence_of_mappings(client: aigw.Client, mock: MockGateway) -> None:
    mock.reset()
    message = types.MappingProxyType({"role": "user", "content": ("a", "b")})
    client.chat((message,))
    body = json.loads(mock.last_request()["body"])
    assert body["messages"] == [{"role": "user", "content": ["a", "b"]}]


def test_model_in_the_request_overrides_the_profile(client: aigw.Client) -> None:
    answer = client.chat(user("hi"), model="openai/gpt-4o")
    assert answer["aigw"]["model"] == "openai/gpt-4o"
    assert answer["model"] == "openai/gpt-4o"


def test_per_request_options(make_client: ClientFactory, mock: MockGateway) -> None:
    client = make_client(gateway={"skip_cache": True, "metadata": {"team": "search"}})
    mock.reset()
    client.chat(user("hi"))
    headers = mock.last_request()["headers"]
    assert headers["cf-aig-skip-cache"] == "true"
    assert json.loads(headers["cf-aig-metadata"]) == {"team": "search"}
    assert headers["authorization"] == f"Bearer {API_KEY}"

    client.chat(
        user("hi"),
        gateway={"cache_ttl": 120, "metadata": {"run": "t1"}},
        extra_headers={"X-Trace": "abc"},
        timeout=5.0,
    )
    headers = mock.last_request()["headers"]
    assert headers["cf-aig-cache-ttl"] == "120"
    assert json.loads(headers["cf-aig-metadata"]) == {"run": "t1"}
    assert headers["x-trace"] == "abc"
    body = json.loads(mock.last_request()["body"])
    assert "gateway" not in body and "timeout" not in body and "extra_headers" not in body


def test_options_do_not_leak_between_calls(client: aigw.Client, mock: MockGateway) -> None:
    client.chat(user("hi"), extra_headers={"X-Once": "1"})
    assert mock.last_request()["headers"]["x-once"] == "1"
    client.chat(user("hi"))
    assert "x-once" not in mock.last_request()["headers"]


def test_list_models(client: aigw.Client) -> None:
    models = client.list_models()
    assert [m["id"] for m in models] == [
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
        "workers-ai/@cf/meta/llama-3.1-8b-instruct",
    ]
    assert isinstance(models[0]["cost_in"], float)
    assert isinstance(models[0]["created_at"], int)


def test_auto_model_uses_the_catalog(make_client: ClientFactory) -> None:
    client = make_client(model="auto", preferred_models=["openai/gpt-4o"])
    assert client.describe()["model"]["strategy"] == "auto_discovery"
    assert client.chat(user("hi"))["aigw"]["model"] == "openai/gpt-4o"


def test_describe_shows_the_operator_visible_route(client: aigw.Client, mock: MockGateway) -> None:
    described = client.describe()
    route = described["route"]
    assert route["resolved"] is True
    assert route["account_id"] == ACCOUNT
    assert route["gateway_name"] == GATEWAY
    assert route["request_endpoint"] == mock.base_url() + "/chat/completions"
    assert route["models_endpoint"] == mock.base_url() + "/models"
    assert described["credentials"] == {
        "status": "resolved",
        "source": "provider.api_key (inline)",
        "key_pool_size": 1,
    }
    assert described["kind"] == "cloudflare_ai_gateway"
    assert described["version"] == aigw.__version__


def test_doctor(client: aigw.Client) -> None:
    report = client.doctor()
    assert [c["name"] for c in report["checks"]] == ["config", "credentials", "route", "model_probe"]
    assert all(c["status"] in ("pass", "warn", "fail") for c in report["checks"])
    assert {c["name"]: c["status"] for c in report["checks"]}["model_probe"] == "pass"


def test_repr_names_the_route_not_the_key(client: aigw.Client, mock: MockGateway) -> None:
    text = repr(client)
    assert text.startswith("<aigw.Client kind=")
    assert mock.base_url() in text
    assert "provider.api_key (inline)" in text
    assert API_KEY not in text


CONFIG = """
active_provider = "main"

[providers.main]
kind = "cloudflare_ai_gateway"
base_url = "{base_url}"
model = "openai/gpt-4o-mini"
api_key = {{ env = "AIGW_PY_TEST_KEY" }}

[providers.other]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
"""


def test_from_config(tmp_path: Path, mock: MockGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIGW_PY_TEST_KEY", API_KEY)
    path = tmp_path / "aigw.toml"
    path.write_text(CONFIG.format(base_url=mock.base_url()), encoding="utf-8")
    for client in (aigw.Client.from_config(path), aigw.Client.from_config(str(path), "main")):
        described = client.describe()
        assert described["credentials"]["source"] == "provider.api_key (env:AIGW_PY_TEST_KEY)"
        assert client.chat(user("cfg"))["choices"][0]["message"]["content"] == "echo: cfg"
    other = aigw.Client.from_config(path, profile="other")
    assert other.describe()["kind"] == "openai"
    with pytest.raises(aigw.ConfigError, match="nope"):
        aigw.Client.from_config(path, "nope")
    with pytest.raises(aigw.ConfigError):
        aigw.Client.from_config(tmp_path / "missing.toml")


def test_providers_are_data() -> None:
    kinds = aigw.providers()
    assert len(kinds) == 45
    ids = [k["id"] for k in kinds]
    assert len(set(ids)) == len(ids)
    for field in (
        "id",
        "display_name",
        "group",
        "protocol_family",
        "feature_family",
        "auth_scheme",
        "aliases",
        "default_base_url",
        "chat_path",
        "default_api_key_env",
        "api_key_env_aliases",
        "oauth_envs",
        "auth_optional",
        "model_probe_auth_optional",
        "requires_tenant_base_url",
        "default_headers",
    ):
        assert all(field in k for k in kinds), field
    for kind in kinds:
        assert aigw.resolve_kind(kind["id"]) == kind
    assert aigw.providers() is not aigw.providers()


def test_version_is_the_workspace_version() -> None:
    cargo = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    match = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', cargo, re.M | re.S)
    assert match
    assert aigw.__version__ == match.group(1)


def test_results_are_fresh_objects(client: aigw.Client) -> None:
    first = client.describe()
    first["route"]["account_id"] = "changed"
    assert client.describe()["route"]["account_id"] == ACCOUNT
