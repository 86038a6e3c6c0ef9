"""aigw: routes and authenticates LLM requests, Cloudflare AI Gateway first.

    client = aigw.Client(kind="cloudflare", account_id=..., gateway_name=..., model=...)
    answer = client.chat(messages=[{"role": "user", "content": "Hello"}])
    with client.chat_stream(messages=[...]) as stream:
        for chunk in stream: ...

    client = aigw.AsyncClient(...)        # asyncio: same arguments, awaitable
    answer = await client.chat(messages=[...])
"""

from typing import TYPE_CHECKING

from aigw._errors import (
    AigwError as AigwError,
    AuthError as AuthError,
    CancelledError as CancelledError,
    ConfigError as ConfigError,
    ConnectionError as ConnectionError,
    InternalError as InternalError,
    InvalidArgumentError as InvalidArgumentError,
    MissingCredentialsError as MissingCredentialsError,
    ModelSelectionError as ModelSelectionError,
    ProtocolError as ProtocolError,
    ProviderError as ProviderError,
    RateLimitError as RateLimitError,
    TimeoutError as TimeoutError,
    UnsupportedError as UnsupportedError,
)
from aigw._aigw import (
    ChatStream as ChatStream,
    Client as Client,
    __version__ as __version__,
    providers as providers,
    resolve_kind as resolve_kind,
)

__all__ = [
    "AigwError",
    "AsyncChatStream",
    "AsyncClient",
    "AuthError",
    "CancelledError",
    "ChatStream",
    "Client",
    "ConfigError",
    "ConnectionError",
    "InternalError",
    "InvalidArgumentError",
    "MissingCredentialsError",
    "ModelSelectionError",
    "ProtocolError",
    "ProviderError",
    "RateLimitError",
    "TimeoutError",
    "UnsupportedError",
    "__version__",
    "providers",
    "resolve_kind",
]


def __getattr__(name: str) -> object:
    # `AsyncClient` pulls in asyncio (tens of milliseconds): imported on first use only.
    if name in ("AsyncClient", "AsyncChatStream"):
        from aigw import _async

        return getattr(_async, name)
    raise AttributeError(f"module 'aigw' has no attribute {name!r}")


if TYPE_CHECKING:
    from aigw._async import AsyncChatStream as AsyncChatStream
    from aigw._async import AsyncClient as AsyncClient
