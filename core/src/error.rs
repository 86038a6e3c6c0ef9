//! The one error type of aigw: a stable code (docs/contract.md §8), a message that says what to do,
//! and the upstream facts an operator needs (HTTP status, provider code, retry hint, request id,
//! and the history of attempts).

use std::fmt;

/// The statuses of the C ABI's numbering that are not errors, before the first error code:
/// success, and a stream that finished. No [`Error`] carries them.
pub const SUCCESS_STATUSES: [(&str, u32); 2] = [("OK", 0), ("DONE", 1)];

/// Stable error codes. The numbers are the C ABI's `aigw_status` values (after
/// [`SUCCESS_STATUSES`]) and are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// NULL pointer, invalid UTF-8, malformed request JSON.
    InvalidArgument = 2,
    /// Bad profile/config, unknown kind, unresolved placeholders.
    Config = 3,
    /// Auth required and none resolved (raised before any I/O).
    MissingCredentials = 4,
    /// Upstream 401/403.
    Auth = 5,
    /// Upstream 429 after retries.
    RateLimited = 6,
    /// Connect, response or stream-idle timeout.
    Timeout = 7,
    /// DNS, refused, reset, TLS.
    Connection = 8,
    /// Any other non-2xx answer.
    Provider = 9,
    /// No usable model.
    ModelSelection = 10,
    /// Malformed JSON/SSE from upstream, body too large.
    Protocol = 11,
    /// A request feature the protocol has no form for (`n` > 1 for Anthropic, Bedrock).
    Unsupported = 12,
    /// Stream closed or cancelled by the caller.
    Cancelled = 13,
    /// A caught panic or a bug.
    Internal = 14,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidArgument,
        ErrorCode::Config,
        ErrorCode::MissingCredentials,
        ErrorCode::Auth,
        ErrorCode::RateLimited,
        ErrorCode::Timeout,
        ErrorCode::Connection,
        ErrorCode::Provider,
        ErrorCode::ModelSelection,
        ErrorCode::Protocol,
        ErrorCode::Unsupported,
        ErrorCode::Cancelled,
        ErrorCode::Internal,
    ];

    /// The string form shared by every language (`"RATE_LIMITED"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Config => "CONFIG",
            ErrorCode::MissingCredentials => "MISSING_CREDENTIALS",
            ErrorCode::Auth => "AUTH",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Connection => "CONNECTION",
            ErrorCode::Provider => "PROVIDER",
            ErrorCode::ModelSelection => "MODEL_SELECTION",
            ErrorCode::Protocol => "PROTOCOL",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The C `aigw_status` number.
    pub fn status(self) -> u32 {
        self as u32
    }

    /// The code an upstream HTTP status maps to when it is not a success.
    pub fn from_http_status(status: u16) -> ErrorCode {
        match status {
            401 | 403 => ErrorCode::Auth,
            429 => ErrorCode::RateLimited,
            _ => ErrorCode::Provider,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One try of a request, as reported in `aigw.attempts` and on errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// HTTP status when an answer arrived.
    pub status: Option<u16>,
    /// Error code when the attempt failed.
    pub error: Option<ErrorCode>,
    /// The model this attempt asked for.
    pub model: String,
    /// Index into the key pool (0 when there is a single key or none).
    pub key_index: usize,
    /// Milliseconds waited before this attempt.
    pub delay_ms: u64,
}

impl Attempt {
    /// The attempt as JSON (`{"status", "error", "model", "key_index", "delay_ms"}`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl serde::Serialize for Attempt {
    /// Keys in sorted order, as a JSON tree writes them.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("delay_ms", &self.delay_ms)?;
        map.serialize_entry("error", &self.error.map(ErrorCode::as_str))?;
        map.serialize_entry("key_index", &self.key_index)?;
        map.serialize_entry("model", &self.model)?;
        map.serialize_entry("status", &self.status)?;
        map.end()
    }
}

/// The error every fallible aigw call returns. Its message never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Stable code (docs/contract.md §8).
    pub code: ErrorCode,
    /// What happened and what to do.
    pub message: String,
    /// Upstream HTTP status, when there was one.
    pub http_status: Option<u16>,
    /// Provider or gateway error code (e.g. `2009`, `insufficient_quota`).
    pub provider_code: Option<String>,
    /// Server-requested delay before retrying, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// The upstream `x-request-id` (or `cf-aig-log-id`), when known.
    pub request_id: Option<String>,
    /// Every attempt made before failing (empty when nothing was sent).
    pub attempts: Vec<Attempt>,
}

/// Result alias used throughout aigw.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with only a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            http_status: None,
            provider_code: None,
            retry_after_ms: None,
            request_id: None,
            attempts: Vec::new(),
        }
    }

    /// A `CONFIG` error.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Config, message)
    }

    /// An `INVALID_ARGUMENT` error.
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    /// A `PROTOCOL` error.
    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Protocol, message)
    }

    /// The error as JSON: the fields every language exposes.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.as_str(),
            "status": self.code.status(),
            "message": self.message,
            "http_status": self.http_status,
            "provider_code": self.provider_code,
            "retry_after_ms": self.retry_after_ms,
            "request_id": self.request_id,
            "attempts": self.attempts.iter().map(Attempt::to_json).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// Runs `f`, turning a panic into an `INTERNAL` error, so no language boundary unwinds. Every
/// binding calls core through this, so a bug reads the same in C, Python and Node.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(Error::new(
            ErrorCode::Internal,
            format!(
                "internal error (a bug in aigw, please report it): a panic was caught: {detail}"
            ),
        ))
    })
}
