"""Type-checked by tests/test_typing.py (mypy --strict), never run: the stubs must let ordinary
aigw code type-check, and reject obvious misuse (see the `type: ignore` lines, which mypy's
warn_unused_ignores turns into failures if the stubs stop catching them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aigw


def use(client: aigw.Client, path: Path) -> str:
    answer: dict[str, Any] = client.chat(
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.2,
        gateway={"cache_ttl": 60},
        extra_headers={"X-Trace": "1"},
        timeout=2.5,
    )
    with client.chat_stream([{"role": "user", "content": "hi"}]) as stream:
        meta: dict[str, Any] = stream.meta
        for chunk in stream:
            chunk.get("choices")
        stream.cancel()
        stream.close()
    models: list[dict[str, Any]] = client.list_models()
    report = client.doctor()["checks"]
    other = aigw.Client.from_config(path, profile="prod")
    aigw.Client.from_config(str(path))
    kinds = [k["id"] for k in aigw.providers()] + [aigw.resolve_kind("cloudflare")["id"]]
    try:
        client.describe()
    except aigw.RateLimitError as e:
        delay: int | None = e.retry_after_ms
    except aigw.AigwError as e:
        code: str = e.code
        status: int | None = e.http_status
        attempts: list[dict[str, object]] = e.attempts
    client.chat([], timeout="soon")  # type: ignore[arg-type]
    aigw.Client.from_config(1)  # type: ignore[arg-type]
    return f"{answer} {meta} {models} {report} {other} {kinds} {aigw.__version__}"
