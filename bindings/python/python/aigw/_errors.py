"""The aigw exceptions (docs/contract.md §8): `AigwError` and one subclass per error code.

Where a builtin fits, the class also derives from it (`aigw.TimeoutError` is a `TimeoutError`,
`aigw.ConnectionError` a `ConnectionError`, `InvalidArgumentError` and `ConfigError` are
`ValueError`s), so code that already catches those keeps working. The Rust side maps core codes
to these classes in one place (`src/errors.rs`).
"""

from __future__ import annotations

import builtins


class AigwError(Exception):
    """Any aigw failure. `code` is the stable docs/contract.md §8 string; the other attributes carry the
    upstream facts when there were any (None otherwise)."""

    code: str = "INTERNAL"

    def __init__(
        self,
        message: str = "",
        *,
        http_status: int | None = None,
        provider_code: str | None = None,
        retry_after_ms: int | None = None,
        request_id: str | None = None,
        attempts: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message: str = message
        self.http_status: int | None = http_status
        self.provider_code: str | None = provider_code
        self.retry_after_ms: int | None = retry_after_ms
        self.request_id: str | None = request_id
        self.attempts: list[dict[str, object]] = attempts if attempts is not None else []


class InvalidArgumentError(AigwError, ValueError):
    """A malformed argument: a request that cannot be JSON, a bad option value."""

    code = "INVALID_ARGUMENT"


class ConfigError(AigwError, ValueError):
    """A bad profile or config file, an unknown kind, unresolved base-URL placeholders."""

    code = "CONFIG"


class MissingCredentialsError(AigwError):
    """Auth is required and no key resolved (raised before any network I/O)."""

    code = "MISSING_CREDENTIALS"


class AuthError(AigwError):
    """The upstream answered 401 or 403."""

    code = "AUTH"


class RateLimitError(AigwError):
    """The upstream answered 429 after retries; see `retry_after_ms`."""

    code = "RATE_LIMITED"


class TimeoutError(AigwError, builtins.TimeoutError):
    """A connect, response or stream-idle deadline passed (the message names the phase)."""

    code = "TIMEOUT"


class ConnectionError(AigwError, builtins.ConnectionError):
    """DNS, refused, reset or TLS failure."""

    code = "CONNECTION"


class ProviderError(AigwError):
    """Any other non-2xx answer; see `http_status` and `provider_code`."""

    code = "PROVIDER"


class ModelSelectionError(AigwError):
    """No usable model: pin `model` or add `preferred_models`."""

    code = "MODEL_SELECTION"


class ProtocolError(AigwError):
    """Malformed JSON or SSE from upstream, a truncated stream, a body over the size limit."""

    code = "PROTOCOL"


class UnsupportedError(AigwError):
    """A request feature the kind's protocol has no form for (e.g. `n` > 1 for Anthropic)."""

    code = "UNSUPPORTED"


class CancelledError(AigwError):
    """The stream was closed or cancelled by the caller."""

    code = "CANCELLED"


class InternalError(AigwError):
    """A bug in aigw (e.g. a caught panic)."""

    code = "INTERNAL"


# Shown (and pickled) as `aigw.<Name>`, where users import them from.
for _class in (
    AigwError,
    InvalidArgumentError,
    ConfigError,
    MissingCredentialsError,
    AuthError,
    RateLimitError,
    TimeoutError,
    ConnectionError,
    ProviderError,
    ModelSelectionError,
    ProtocolError,
    UnsupportedError,
    CancelledError,
    InternalError,
):
    _class.__module__ = "aigw"
del _class
