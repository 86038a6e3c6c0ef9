"""Shared fixtures: the mock Cloudflare AI Gateway (a session-scoped process on 127.0.0.1 with
an OS-chosen port, stopped at the end), clients pointed at it, and the shared test vectors."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import aigw

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
# Distinctive, so the hygiene tests can prove it never leaks into messages or reprs.
API_KEY = "sk-aigw-python-test-9f3c1e"
ACCOUNT = "0123456789abcdef0123456789abcdef"
GATEWAY = "py-tests"
MODEL = "openai/gpt-4o-mini"
# Every env var a test here might read through credential resolution.
CREDENTIAL_ENVS = ("CLOUDFLARE_API_KEY", "CLOUDFLARE_AI_GATEWAY_API_KEY")


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def mock_binary() -> Path:
    override = os.environ.get("AIGW_MOCK_GATEWAY")
    if override:
        return Path(override)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "aigw-mock-gateway"


class MockGateway:
    """One `aigw-mock-gateway` process; `stop()` ends it (it also exits by itself)."""

    def __init__(
        self,
        workdir: Path,
        api_keys: tuple[str, ...] = (API_KEY,),
        flags: tuple[str, ...] | None = None,
    ) -> None:
        """`flags` replaces the default `--api-key API_KEY` flags when given."""
        binary = mock_binary()
        if not binary.exists():
            pytest.fail(f"{binary} is missing: run `cargo build -p aigw-mock` first")
        port_file = workdir / "port"
        args = [str(binary), "--lifetime-secs", "300", "--port-file", str(port_file)]
        if flags is None:
            for key in api_keys:
                args += ["--api-key", key]
        else:
            args += list(flags)
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("the mock gateway did not start")
            time.sleep(0.01)
        self.port = int(port_file.read_text().strip())
        self.control_calls = 0
        self.url = f"http://127.0.0.1:{self.port}"

    def base_url(self, account: str = ACCOUNT, gateway: str = GATEWAY) -> str:
        return f"{self.url}/v1/{account}/{gateway}/openai/compat"

    def _control(self, method: str, route: str) -> Any:
        self.control_calls += 1
        request = urllib.request.Request(f"{self.url}/__mock/{route}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "requests")
        return result

    def last_request(self) -> dict[str, Any]:
        requests = self.requests()
        assert requests, "the mock received no request"
        return requests[-1]

    def reset(self) -> None:
        self._control("POST", "reset")

    def stats(self) -> dict[str, int]:
        """The mock's connection counters, plus the same seen from aigw's side: control calls
        (this one included, still open while it is answered) use a connection each."""
        result: dict[str, int] = self._control("GET", "stats")
        opened, closed = result["connections_opened"], result["connections_closed"]
        result["client_opened"] = opened - self.control_calls
        result["client_live"] = opened - closed - 1
        return result

    def wait_for_stats(self, predicate: Callable[[dict[str, int]], bool], seconds: float = 5) -> dict[str, int]:
        """Polls the connection counters until `predicate` holds (bounded in time)."""
        deadline = time.monotonic() + seconds
        stats = self.stats()
        while not predicate(stats) and time.monotonic() < deadline:
            time.sleep(0.02)
            stats = self.stats()
        return stats

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockGateway]:
    gateway = MockGateway(tmp_path_factory.mktemp("mock"))
    yield gateway
    gateway.stop()


@pytest.fixture
def fresh_mock(tmp_path: Path) -> Iterator[MockGateway]:
    """A mock of its own, for tests that count connections."""
    gateway = MockGateway(tmp_path)
    yield gateway
    gateway.stop()


ClientFactory = Callable[..., aigw.Client]


def client_for(mock_gateway: MockGateway, /, **overrides: Any) -> aigw.Client:
    profile: dict[str, Any] = {
        "kind": "cloudflare",
        "base_url": mock_gateway.base_url(),
        "api_key": API_KEY,
        "model": MODEL,
        "retry_initial_backoff_ms": 50,
        "retry_max_backoff_ms": 200,
    }
    profile.update(overrides)
    return aigw.Client(**profile)


@pytest.fixture
def make_client(mock: MockGateway) -> ClientFactory:
    def make(**overrides: Any) -> aigw.Client:
        return client_for(mock, **overrides)

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> aigw.Client:
    return make_client()


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def fault(spec: str) -> dict[str, str]:
    """`extra_headers` that script a mock fault for one request."""
    return {"x-mock-fault": spec}


def stream_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(
        choice.get("delta", {}).get("content") or ""
        for chunk in chunks
        for choice in chunk.get("choices", [])
    )
