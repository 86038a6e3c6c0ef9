//! `aigw_status`: the C numbers of docs/contract.md section 8 and the single mapping from core error codes to them
//! (and to their static C strings).

use std::ffi::{c_char, CStr};

use aigw_core::ErrorCode;

use crate::boundary;

/// The result of every fallible aigw function (docs/contract.md section 8). The numbers are fixed and never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum aigw_status {
    /// Success.
    Ok = 0,
    /// The stream has no more chunks (not an error).
    Done = 1,
    /// A NULL pointer, invalid UTF-8, or malformed request JSON was passed.
    InvalidArgument = 2,
    /// Bad profile or config, unknown kind, unresolved placeholders.
    Config = 3,
    /// Authentication is required and no credentials resolved (reported before any I/O).
    MissingCredentials = 4,
    /// The upstream answered 401 or 403.
    Auth = 5,
    /// The upstream answered 429 after retries (see `aigw_error_retry_after_ms`).
    RateLimited = 6,
    /// A connect, response or stream-idle timeout.
    Timeout = 7,
    /// DNS, connection refused or reset, TLS.
    Connection = 8,
    /// Any other non-2xx answer (see `aigw_error_http_status`).
    Provider = 9,
    /// No usable model.
    ModelSelection = 10,
    /// Malformed JSON or SSE from upstream, or a body over the size limit.
    Protocol = 11,
    /// A request feature the kind's protocol has no form for (e.g. `n` > 1 for Anthropic).
    Unsupported = 12,
    /// The call (`aigw_cancel_token_cancel`) or stream (`aigw_stream_cancel`) was cancelled by the
    /// caller.
    Cancelled = 13,
    /// A caught panic or a bug in aigw.
    Internal = 14,
}

/// The one place a core code becomes a C status and its static string.
pub(crate) fn c_code(code: ErrorCode) -> (aigw_status, &'static CStr) {
    match code {
        ErrorCode::InvalidArgument => (aigw_status::InvalidArgument, c"INVALID_ARGUMENT"),
        ErrorCode::Config => (aigw_status::Config, c"CONFIG"),
        ErrorCode::MissingCredentials => (aigw_status::MissingCredentials, c"MISSING_CREDENTIALS"),
        ErrorCode::Auth => (aigw_status::Auth, c"AUTH"),
        ErrorCode::RateLimited => (aigw_status::RateLimited, c"RATE_LIMITED"),
        ErrorCode::Timeout => (aigw_status::Timeout, c"TIMEOUT"),
        ErrorCode::Connection => (aigw_status::Connection, c"CONNECTION"),
        ErrorCode::Provider => (aigw_status::Provider, c"PROVIDER"),
        ErrorCode::ModelSelection => (aigw_status::ModelSelection, c"MODEL_SELECTION"),
        ErrorCode::Protocol => (aigw_status::Protocol, c"PROTOCOL"),
        ErrorCode::Unsupported => (aigw_status::Unsupported, c"UNSUPPORTED"),
        ErrorCode::Cancelled => (aigw_status::Cancelled, c"CANCELLED"),
        ErrorCode::Internal => (aigw_status::Internal, c"INTERNAL"),
    }
}

impl From<ErrorCode> for aigw_status {
    fn from(code: ErrorCode) -> aigw_status {
        c_code(code).0
    }
}

/// The core code whose C number is `status`, if any.
pub(crate) fn code_of(status: u32) -> Option<ErrorCode> {
    ErrorCode::ALL.into_iter().find(|c| c.status() == status)
}

/// The string code of a status number (`"RATE_LIMITED"` for `AIGW_STATUS_RATE_LIMITED`), the
/// same string every language uses.
///
/// Returns a static string (never free it); `"UNKNOWN"` for a number that is no `aigw_status`.
/// Takes a plain integer so any value is safe to pass. Thread-safe.
#[no_mangle]
pub extern "C" fn aigw_status_str(status: u32) -> *const c_char {
    boundary::guard(c"INTERNAL".as_ptr(), || match (status, code_of(status)) {
        (0, _) => c"OK".as_ptr(),
        (1, _) => c"DONE".as_ptr(),
        (_, Some(code)) => c_code(code).1.as_ptr(),
        (_, None) => c"UNKNOWN".as_ptr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_maps_to_its_number_and_string() {
        for code in ErrorCode::ALL {
            let (status, text) = c_code(code);
            assert_eq!(status as u32, code.status(), "{code}");
            assert_eq!(text.to_str().ok(), Some(code.as_str()));
            assert_eq!(code_of(code.status()), Some(code));
        }
        assert_eq!(code_of(15), None);
        assert_eq!((code_of(0), code_of(1)), (None, None));
        for (name, number) in aigw_core::error::SUCCESS_STATUSES {
            assert_eq!(name, if number == 0 { "OK" } else { "DONE" });
            assert_eq!(
                number,
                if name == "OK" {
                    aigw_status::Ok
                } else {
                    aigw_status::Done
                } as u32
            );
        }
    }
}
