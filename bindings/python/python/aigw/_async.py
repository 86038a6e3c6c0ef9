"""`aigw.AsyncClient`: the same calls as `aigw.Client`, awaitable (docs/contract.md §13).

Each call runs on aigw's own worker threads (core's pool, which grows with the calls in flight),
never on the event loop or its default executor. Finished calls wait in the loop's completion
queue (`Completions`, one per loop): the worker wakes the loop through a socket the loop watches
(`loop.add_reader`) without taking the GIL, and one callback on the loop settles every call that
finished meanwhile; streams hand over every chunk that arrived together. Cancelling the awaiting task (`task.cancel()`, `asyncio.timeout`,
`asyncio.wait_for`) cancels the HTTP request itself: its connection is closed within 100 ms, no
retry starts after it, and the task sees `asyncio.CancelledError`.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from aigw._aigw import Client, Completions

# One completion queue per event loop, dropped with the loop (a loop type that takes no weak
# references keeps its queue for the life of the process).
_queues: MutableMapping[asyncio.AbstractEventLoop, Completions] = weakref.WeakKeyDictionary()
_strong_queues: dict[asyncio.AbstractEventLoop, Completions] = {}


def _completions(loop: asyncio.AbstractEventLoop) -> Completions:
    """The loop's completion queue, made and watched on its first call."""
    queue = _queues.get(loop) or _strong_queues.get(loop)
    if queue is None:
        queue = Completions()
        loop.add_reader(queue.fileno(), queue.drain)
        try:
            _queues[loop] = queue
        except TypeError:
            _strong_queues[loop] = queue
    return queue


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Called on the loop by the worker that finished: a cancelled future stays cancelled."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def _await(start: Any, *args: Any, **kwargs: Any) -> Any:
    """Starts a native call with a fresh future and awaits it; cancelling the awaiting task
    cancels the call (its connection is closed, no retry starts)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    handle = start(*args[:1], _completions(loop), future, *args[1:], **kwargs)
    try:
        return await future
    except asyncio.CancelledError:
        handle.cancel()
        raise


class AsyncClient:
    """An aigw client for asyncio: `AsyncClient(**profile)` takes the same profile fields as
    `aigw.Client`, and every method takes the same arguments and raises the same exceptions."""

    def __init__(self, **profile: Any) -> None:
        self._client = Client(**profile)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], profile: str | None = None) -> AsyncClient:
        """Builds a client from a TOML or JSON config file (read now, synchronously)."""
        client = cls.__new__(cls)
        client._client = Client.from_config(path, profile)
        return client

    async def chat(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        """A chat completion: the OpenAI answer with an added `aigw` key."""
        result: dict[str, Any] = await _await(self._client._start, "chat", messages, **kwargs)
        return result

    async def embeddings(self, input: Any, **kwargs: Any) -> dict[str, Any]:
        """Embeddings for `input`: the OpenAI answer with an added `aigw` key."""
        result: dict[str, Any] = await _await(self._client._start, "embeddings", input, **kwargs)
        return result

    async def list_models(self) -> list[dict[str, Any]]:
        """The provider's model catalog (cached per client)."""
        result: list[dict[str, Any]] = await _await(self._client._start_plain, "list_models")
        return result

    async def doctor(self) -> dict[str, Any]:
        """Config, credentials, route and model-probe checks, each pass/warn/fail."""
        result: dict[str, Any] = await _await(self._client._start_plain, "doctor")
        return result

    def describe(self) -> dict[str, Any]:
        """What this client will do (no I/O, so not awaitable)."""
        result: dict[str, Any] = self._client.describe()
        return result

    def chat_stream(self, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> AsyncChatStream:
        """A streaming chat: `async with client.chat_stream(...) as s: async for chunk in s`.
        Argument errors raise here; the request starts on first use."""
        return AsyncChatStream(self._client, messages, kwargs)

    def __repr__(self) -> str:
        return repr(self._client).replace("<aigw.Client", "<aigw.AsyncClient", 1)


class AsyncChatStream:
    """An async iterator of `chat.completion.chunk` dicts and an async context manager.
    `meta` is the response metadata once the stream opened (`usage` and `cost` once it ended);
    `cancel()` works from any thread; leaving `async with` or `aclose()` drops the connection."""

    def __init__(self, client: Client, messages: Any, kwargs: dict[str, Any]) -> None:
        self._client = client
        self._messages = messages
        self._kwargs = kwargs
        self._handle: Any = None
        self._cancelled = False
        self._closed = False
        # Chunks that arrived together with the last one handed out, and where the next is.
        self._batch: list[dict[str, Any]] = []
        self._taken = 0

    @property
    def meta(self) -> dict[str, Any] | None:
        return None if self._handle is None else self._handle.meta

    async def _open(self) -> None:
        if self._handle is None:
            self._handle = await _await(self._client._start, "stream", self._messages, **self._kwargs)
            if self._cancelled:
                self._handle.cancel()

    async def __aenter__(self) -> AsyncChatStream:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        if self._taken < len(self._batch):
            # Received with the chunk before: no thread hop, no loop wake-up.
            chunk = self._batch[self._taken]
            self._taken += 1
            return chunk
        await self._open()
        batch: list[dict[str, Any]] | None = await _await(self._handle.next)
        if batch is None:
            raise StopAsyncIteration
        self._batch, self._taken = batch, 1
        return batch[0]

    def cancel(self) -> None:
        """Cancels the stream: the pending or next read raises `aigw.CancelledError`."""
        self._cancelled = True
        self._batch, self._taken = [], 0
        if self._handle is not None:
            self._handle.cancel()

    async def aclose(self) -> None:
        """Closes the stream; an unfinished connection is dropped. Safe to call twice."""
        self._closed = True
        self._batch, self._taken = [], 0
        if self._handle is not None:
            self._handle.close()
