"""Hostile but realistic use: upstreams that echo the credentials they were sent, processes that
fork after using a client (gunicorn --preload, multiprocessing's fork start method), and users
who press Ctrl-C while a call is blocked."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import pytest

import aigw
from conftest import API_KEY, MODEL, ClientFactory, MockGateway, fault, user

TOKEN = "cfut-python-gateway-token-31337"


def every_text(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), repr(error.args)])


def assert_scrubbed(text: str) -> None:
    assert API_KEY not in text and TOKEN not in text, text
    assert "[redacted]" in text, text


def test_echoed_key_and_gateway_token_are_scrubbed(make_client: ClientFactory) -> None:
    client = make_client(gateway={"authorization": TOKEN})
    with pytest.raises(aigw.AuthError) as caught:
        client.chat(user("hi"), extra_headers=fault("status=401;echo_secrets"))
    assert_scrubbed(every_text(caught.value))

    for spec in ("sse_error_frame;split_bytes;echo_secrets", "sse_event_error;echo_secrets"):
        with pytest.raises(aigw.AigwError) as caught:
            for _ in client.chat_stream(user("hi"), extra_headers=fault(spec)):
                pass
        assert_scrubbed(every_text(caught.value))


def test_doctor_scrubs_an_echoing_catalog(make_client: ClientFactory) -> None:
    client = make_client(headers=fault("models:status=403;models:echo_secrets"))
    report = repr(client.doctor())
    assert API_KEY not in report and "[redacted]" in report, report


def _ask_many(client: aigw.Client, tag: str, count: int, threads: int) -> int:
    """Sends `count` requests over `threads` threads; returns how many answers were not ours."""
    wrong = [0]
    lock = threading.Lock()

    def worker(t: int) -> None:
        for i in range(count // threads):
            text = f"{tag}-{t}-{i}"
            answer = client.chat(user(text))["choices"][0]["message"]["content"]
            if answer != f"echo: {text}":
                with lock:
                    wrong[0] += 1

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    return wrong[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("threads", [1, 4])
def test_forked_children_never_share_connections(make_client: ClientFactory, threads: int) -> None:
    client = make_client()
    # Fill the pool with keep-alive connections the child inherits.
    assert _ask_many(client, "warm", 8, 4) == 0
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the cross-talk count through the pipe, then leave at once
        code = 1
        try:
            os.close(read_end)
            wrong = _ask_many(client, f"child{os.getpid()}", 200, threads)
            os.write(write_end, str(wrong).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    wrong_in_parent = _ask_many(client, "parent", 200, threads)
    with os.fdopen(read_end) as pipe:
        wrong_in_child = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (wrong_in_parent, wrong_in_child) == (0, "0")


_FORKED_CLIENT: aigw.Client | None = None


def _child_work(tag: str) -> int:
    assert _FORKED_CLIENT is not None
    return _ask_many(_FORKED_CLIENT, tag, 200, 4)


def test_multiprocessing_fork_start_method(make_client: ClientFactory) -> None:
    global _FORKED_CLIENT
    _FORKED_CLIENT = make_client()
    assert _ask_many(_FORKED_CLIENT, "warm", 8, 4) == 0
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        pending = pool.map_async(_child_work, ["a", "b"])
        wrong_in_parent = _ask_many(_FORKED_CLIENT, "parent", 200, 4)
        assert pending.get(timeout=90) == [0, 0]
    assert wrong_in_parent == 0


_CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import aigw
    base, key, model, mode = sys.argv[1:5]
    client = aigw.Client(kind="cloudflare", base_url=base, api_key=key, model=model,
                         request_timeout_ms=60000, stream_idle_timeout_ms=60000)
    messages = [{"role": "user", "content": "hi"}]
    try:
        if mode == "chat":
            print("blocked", flush=True)
            client.chat(messages, extra_headers={"x-mock-fault": "delay_ms=30000"})
        else:
            stream = client.chat_stream(
                messages, extra_headers={"x-mock-fault": "chunks=4;stall_after=1;stall_ms=30000"})
            next(stream)
            print("blocked", flush=True)
            for _ in stream:
                pass
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
        sys.exit(0)
    except BaseException as e:
        print("other", type(e).__name__, e, flush=True)
        sys.exit(3)
    print("finished", flush=True)
    sys.exit(4)
    """
)


@pytest.mark.parametrize("mode", ["chat", "stream"])
def test_ctrl_c_ends_a_blocked_call_promptly(mock: MockGateway, mode: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_SCRIPT, mock.base_url(), API_KEY, MODEL, mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "blocked"
        time.sleep(0.5)  # well inside the blocked read
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        assert line[:1] == ["interrupted"], line
        took = float(line[1]) - sent
        assert took < 0.5, f"KeyboardInterrupt came {took:.3f} s after SIGINT"
        assert child.wait(timeout=10) == 0
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_a_signal_handlers_exception_reaches_the_caller_with_its_type(
    make_client: ClientFactory,
) -> None:
    """Any handler's exception ends the blocked call and is raised as itself."""
    client = make_client()
    previous = signal.signal(signal.SIGUSR1, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.chat(user("hi"), extra_headers=fault("delay_ms=5000"))
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
