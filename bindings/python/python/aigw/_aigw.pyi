# Stubs for the Rust extension `aigw._aigw` (hand-written; checked against the runtime by
# mypy's stubtest in tests/test_typing.py).
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, final

__all__ = [
    "CancelHandle",
    "ChatStream",
    "Client",
    "Completions",
    "StreamHandle",
    "__version__",
    "providers",
    "resolve_kind",
]
__version__: str

def providers() -> list[dict[str, Any]]:
    """Every built-in provider kind (docs/contract.md §2), as dicts."""

def resolve_kind(name: str) -> dict[str, Any]:
    """The kind an id or alias names; `ConfigError` with suggestions when unknown."""

@final
class CancelHandle:
    """Cancels one `AsyncClient` call from any thread (used by `aigw._async`)."""

    def cancel(self) -> None: ...

@final
class Completions:
    """One event loop's queue of finished `AsyncClient` calls (used by `aigw._async`): the loop
    watches `fileno()` and calls `drain()`, which settles every queued future."""

    def __init__(self) -> None: ...
    def fileno(self) -> int: ...
    def pending(self) -> int: ...
    def drain(self) -> None: ...

@final
class StreamHandle:
    """An open `AsyncClient` stream; reads run on aigw's worker pool (used by `aigw._async`)."""

    @property
    def meta(self) -> dict[str, Any]: ...
    def next(self, completions: Completions, future: Any) -> CancelHandle:
        """Settles `future` with the next chunks (a list: every chunk that arrived together), or
        `None` at the end."""
    def cancel(self) -> None: ...
    def close(self) -> None: ...

@final
class Client:
    """An aigw client: a resolved route, credentials and one keep-alive connection pool."""

    def __new__(cls, **profile: Any) -> Client: ...
    @staticmethod
    def from_config(path: str | os.PathLike[str], profile: str | None = None) -> Client: ...
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        gateway: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> dict[str, Any]: ...
    def embeddings(
        self,
        input: str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]],
        *,
        gateway: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> dict[str, Any]: ...
    def chat_stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        gateway: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> ChatStream: ...
    def _start(
        self,
        kind: str,
        completions: Completions,
        future: Any,
        first: Any,
        *,
        gateway: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> CancelHandle: ...
    def _start_plain(self, kind: str, completions: Completions, future: Any) -> CancelHandle: ...
    def list_models(self) -> list[dict[str, Any]]: ...
    def describe(self) -> dict[str, Any]: ...
    def doctor(self) -> dict[str, Any]: ...

@final
class ChatStream:
    """A streaming chat answer: an iterator of chunk dicts and a context manager."""

    @property
    def meta(self) -> dict[str, Any]: ...
    def __iter__(self) -> ChatStream: ...
    def __next__(self) -> dict[str, Any]: ...
    def __enter__(self) -> ChatStream: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None: ...
    def close(self) -> None: ...
    def cancel(self) -> None: ...
