//! `aigw_error`: a core [`Error`] owned by C, with its strings kept NUL-terminated so the
//! accessors can hand out borrowed views.

use std::ffi::{c_char, CString};

use aigw_core::Error;

use crate::boundary::{self, c_text};
use crate::status::{aigw_status, c_code};

/// An error returned through an `aigw_error **` out-param. Owned by the caller: free it with
/// `aigw_error_free`. Immutable, so it may be read from several threads at once.
pub struct aigw_error {
    error: Error,
    message: CString,
    provider_code: Option<CString>,
    request_id: Option<CString>,
}

impl aigw_error {
    pub(crate) fn into_raw(error: Error) -> *mut aigw_error {
        let message = c_text(&error.message);
        let provider_code = error.provider_code.as_deref().map(c_text);
        let request_id = error.request_id.as_deref().map(c_text);
        Box::into_raw(Box::new(aigw_error {
            error,
            message,
            provider_code,
            request_id,
        }))
    }

    /// The core error (for Rust callers and tests).
    pub fn inner(&self) -> &Error {
        &self.error
    }
}

/// A `const aigw_error *` read by an accessor: NULL is tolerated, never dereferenced.
///
/// # Safety
/// `error` is NULL or a live error made by aigw.
unsafe fn read<T: Copy>(
    error: *const aigw_error,
    when_null: T,
    f: impl FnOnce(&aigw_error) -> T,
) -> T {
    boundary::guard(when_null, || {
        // SAFETY: by this function's contract `error` is NULL (`as_ref` gives `None`) or a live
        // error made by aigw; errors are immutable, so a shared borrow for the call is sound
        // even while other threads read the same error.
        match unsafe { error.as_ref() } {
            Some(e) => f(e),
            None => when_null,
        }
    })
}

/// The status of an error (the same number the failing call returned).
///
/// Returns `AIGW_STATUS_INVALID_ARGUMENT` when `error` is NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_status(error: *const aigw_error) -> aigw_status {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    unsafe { read(error, aigw_status::InvalidArgument, |e| e.error.code.into()) }
}

/// The string code of an error (`"RATE_LIMITED"`), the same in every language.
///
/// Returns a static string (never free it); `"INVALID_ARGUMENT"` when `error` is NULL.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_code(error: *const aigw_error) -> *const c_char {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    // The string returned is static, whatever `error` is.
    unsafe {
        read(error, c"INVALID_ARGUMENT".as_ptr(), |e| {
            c_code(e.error.code).1.as_ptr()
        })
    }
}

/// What happened and what to do (never contains a secret).
///
/// Returns a string borrowed from `error`, valid until `aigw_error_free(error)`; when `error` is
/// NULL, a static string saying so. Never NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_message(error: *const aigw_error) -> *const c_char {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    // The view returned lives in the error, as long as this function's comment promises.
    unsafe {
        read(
            error,
            c"aigw_error_message: the error pointer is NULL".as_ptr(),
            |e| e.message.as_ptr(),
        )
    }
}

/// The upstream HTTP status that caused the error, or 0 when there was none (or `error` is
/// NULL). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_http_status(error: *const aigw_error) -> u16 {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    unsafe { read(error, 0, |e| e.error.http_status.unwrap_or(0)) }
}

/// The delay the server asked for before a retry, in milliseconds, or 0 when it asked for none
/// (or `error` is NULL). Set on `AIGW_STATUS_RATE_LIMITED` errors whose answer carried
/// `retry-after-ms` or `Retry-After`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_retry_after_ms(error: *const aigw_error) -> u64 {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    unsafe { read(error, 0, |e| e.error.retry_after_ms.unwrap_or(0)) }
}

/// The provider's or gateway's own error code (e.g. `"2009"`, `"insufficient_quota"`).
///
/// Returns a string borrowed from `error`, valid until `aigw_error_free(error)`, or NULL when
/// there is none or `error` is NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_provider_code(error: *const aigw_error) -> *const c_char {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    // The view returned lives in the error, as long as this function's comment promises.
    unsafe {
        read(error, std::ptr::null(), |e| {
            e.provider_code
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr())
        })
    }
}

/// The upstream request id (`x-request-id`, or Cloudflare's `cf-aig-log-id`).
///
/// Returns a string borrowed from `error`, valid until `aigw_error_free(error)`, or NULL when
/// there is none or `error` is NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_request_id(error: *const aigw_error) -> *const c_char {
    // SAFETY: the header lets `error` be NULL here (`read` never dereferences NULL); otherwise,
    // by the "Ownership" convention, it is an error aigw returned that has not been freed.
    // The view returned lives in the error, as long as this function's comment promises.
    unsafe {
        read(error, std::ptr::null(), |e| {
            e.request_id
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr())
        })
    }
}

/// Every field of the error as one JSON object: `code`, `status`, `message`, `http_status`,
/// `provider_code`, `retry_after_ms`, `request_id` (null when absent) and `attempts`.
///
/// On `AIGW_STATUS_OK`, `*json_out` receives an owned string to free with `aigw_string_free`.
/// `error` and `json_out` must not be NULL (else `AIGW_STATUS_INVALID_ARGUMENT`, nothing written).
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_json(
    error: *const aigw_error,
    json_out: *mut *mut c_char,
) -> aigw_status {
    boundary::call(std::ptr::null_mut(), || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by the "Ownership"
        // convention, `error` is an error aigw returned that has not been freed.
        let error = unsafe { boundary::object(error, "error") }?;
        let json_out = boundary::out(json_out, "json_out")?;
        let json = boundary::owned_json(&error.error.to_json())?;
        // SAFETY: `json_out` is a non-NULL `char **` out-param, writable for a `char *` by the
        // header's "Out-params" convention.
        unsafe { json_out.write(json) };
        Ok(aigw_status::Ok)
    })
}

/// Frees an error. NULL is a no-op. The error and every string borrowed from it become invalid.
#[no_mangle]
pub unsafe extern "C" fn aigw_error_free(error: *mut aigw_error) {
    // SAFETY: NULL is allowed ("Every _free function accepts NULL"); otherwise, by the
    // "Ownership" convention, `error` is an error aigw returned through an `aigw_error **` (a
    // `Box::into_raw` in `aigw_error::into_raw`), freed once and not used afterwards.
    unsafe { boundary::free_boxed(error) }
}
