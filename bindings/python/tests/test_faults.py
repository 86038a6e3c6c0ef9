"""The network-fault suite through the Python binding: every scripted network fault ends as
the right typed exception (or the full right result) within its deadlines — never a hang, a
crash or a truncated success. Mirrors core/tests/faults.rs."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

import aigw
from conftest import MockGateway, client_for, fault, stream_text, user

SHORT = {"request_timeout_ms": 1000, "stream_idle_timeout_ms": 1000, "retry_max_attempts": 1}

CASES: list[tuple[str, bool, tuple[type[aigw.AigwError], ...]]] = [
    ("reset_before_headers", False, (aigw.ConnectionError,)),
    ("reset_before_headers", True, (aigw.ConnectionError,)),
    ("headers_no_body", False, (aigw.ConnectionError, aigw.ProtocolError)),
    ("truncated_chunked", False, (aigw.ConnectionError, aigw.ProtocolError)),
    ("reset_after=3", True, (aigw.ConnectionError, aigw.ProtocolError)),
    ("truncate_after=3", True, (aigw.ProtocolError,)),
    ("delay_ms=2500", False, (aigw.TimeoutError,)),
    ("delay_ms=2500", True, (aigw.TimeoutError,)),
    ("stall_after=2;stall_ms=2500", True, (aigw.TimeoutError,)),
    ("invalid_utf8_json", False, (aigw.ProtocolError,)),
    ("invalid_utf8_sse", True, (aigw.ProtocolError,)),
    ("malformed_json", False, (aigw.ProtocolError,)),
    ("malformed_sse", True, (aigw.ProtocolError,)),
    ("not_openai_shape", False, (aigw.ProtocolError,)),
    ("huge_body_mib=40", False, (aigw.ProtocolError,)),
]


def run(client: aigw.Client, spec: str, stream: bool) -> Any:
    if not stream:
        return client.chat(messages=user("fault"), extra_headers=fault(spec))
    with client.chat_stream(messages=user("fault"), extra_headers=fault(spec)) as s:
        return stream_text(list(s))


@pytest.mark.parametrize(("spec", "stream", "errors"), CASES, ids=[f"{c[0]}-{'stream' if c[1] else 'chat'}" for c in CASES])
def test_fault_ends_typed_and_bounded(mock: MockGateway, spec: str, stream: bool,
                                      errors: tuple[type[aigw.AigwError], ...]) -> None:
    client = client_for(mock, **SHORT)
    started = time.monotonic()
    with pytest.raises(errors) as info:
        run(client, spec, stream)
    assert time.monotonic() - started < 5, f"{spec} exceeded its 1 s deadlines"
    assert isinstance(info.value, aigw.AigwError)
    assert info.value.code in {"CONNECTION", "PROTOCOL", "TIMEOUT"}


def test_a_thousand_one_byte_frames_reassemble_exactly(mock: MockGateway) -> None:
    client = client_for(mock, **SHORT)
    expected = "".join(("héllo wörld 🦀 中文 " * 100)[:1000])
    assert run(client, "chunks=1000;content_len=1000;split_bytes", True) == expected


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = aigw.Client(kind="cloudflare", base_url=f"http://127.0.0.1:{port}/v1/a/g/openai/compat",
                         api_key="k", model="openai/x", **SHORT)
    with pytest.raises(aigw.ConnectionError) as info:
        client.chat(messages=user("x"))
    assert isinstance(info.value, ConnectionError)


def test_a_silent_server_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []

    def accept() -> None:
        listener.settimeout(10)
        for _ in range(2):
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    client = aigw.Client(kind="cloudflare", base_url=f"http://127.0.0.1:{port}/v1/a/g/openai/compat",
                         api_key="k", model="openai/x", **SHORT)
    started = time.monotonic()
    with pytest.raises(aigw.TimeoutError):
        client.chat(messages=user("x"))
    with pytest.raises(aigw.TimeoutError):
        run(client, "", True)
    assert time.monotonic() - started < 6
    for conn in held:
        conn.close()
    listener.close()
    thread.join(timeout=5)
