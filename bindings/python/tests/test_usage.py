"""Embeddings, normalised usage and cost (docs/contract.md §14) through the Python binding: the
shared vectors in tests/vectors/usage.json, the stream usage default and its fallback, and
embeddings' answer, errors and model selection."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw
from conftest import MockGateway, client_for, fault, load_vectors, user

USAGE = load_vectors("usage.json")


def usage_fault(usage: dict[str, Any]) -> dict[str, str]:
    return fault(f"usage={json.dumps(usage)}")


@pytest.mark.parametrize("case", USAGE["normalisation"], ids=lambda c: c["name"])
def test_usage_normalisation(case: dict[str, Any], client: aigw.Client) -> None:
    answer = client.chat(user("hi"), extra_headers=usage_fault(case["usage"]))
    assert answer["aigw"]["usage"] == case["expect"]
    with client.chat_stream(user("hi"), extra_headers=usage_fault(case["usage"])) as stream:
        chunks = list(stream)
        assert chunks[-1]["choices"] == [], "the usage chunk is yielded"
        assert stream.meta["usage"] == case["expect"]


@pytest.mark.parametrize("case", USAGE["cost"], ids=lambda c: c["name"])
def test_cost(case: dict[str, Any], mock: MockGateway) -> None:
    overrides = dict(case["profile"])
    if "model" not in overrides:
        overrides["model"] = None
    client = client_for(mock, **overrides)
    cost = client.chat(user("hi"), extra_headers=usage_fault(case["usage"]))["aigw"]["cost"]
    if case["expect"] is None:
        assert cost is None
    else:
        assert cost["source"] == case["expect"]["source"]
        assert cost["usd"] == pytest.approx(case["expect"]["usd"], abs=1e-9)


def test_streams_fall_back_once_when_stream_options_is_refused(fresh_mock: MockGateway) -> None:
    client = client_for(fresh_mock)
    refusing = fault("reject_stream_options")
    with client.chat_stream(user("a b"), extra_headers=refusing) as stream:
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in stream if c["choices"]) == "echo: a b"
    with client.chat_stream(user("a b"), extra_headers=refusing) as stream:
        list(stream)
    sent = [json.loads(r["body"]) for r in fresh_mock.requests()]
    assert ["stream_options" in s for s in sent] == [True, False, False]


def test_embeddings_answer_and_model_selection(mock: MockGateway) -> None:
    client = client_for(mock, embedding_model="workers-ai/@cf/baai/bge-small-en-v1.5")
    assert client.describe()["model"]["embedding_model"] == "workers-ai/@cf/baai/bge-small-en-v1.5"
    answer = client.embeddings(["one two", "three"])
    assert [len(d["embedding"]) for d in answer["data"]] == [8, 8]
    assert answer["aigw"]["model"] == "workers-ai/@cf/baai/bge-small-en-v1.5"
    assert answer["aigw"]["usage"]["input_tokens"] == 3
    assert mock.last_request()["path"].endswith("/embeddings")
    named = client.embeddings("one two", model="openai/text-embedding-3-small")
    assert named["aigw"]["model"] == "openai/text-embedding-3-small"
    assert named["data"][0]["embedding"] == answer["data"][0]["embedding"]


def test_embeddings_errors(client: aigw.Client) -> None:
    with pytest.raises(aigw.ModelSelectionError, match="provider.embedding_model"):
        client.embeddings("x")
    with pytest.raises(aigw.InvalidArgumentError, match="empty list"):
        client.embeddings([], model="openai/e")
    with pytest.raises(aigw.ProviderError) as info:
        client.embeddings("x", model="openai/e", extra_headers=fault("status=400"))
    assert info.value.http_status == 400
    with pytest.raises(aigw.AuthError):
        client.embeddings("x", model="openai/e", extra_headers=fault("status=401"))
