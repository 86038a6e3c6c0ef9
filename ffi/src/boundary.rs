//! The boundary every exported body runs inside: panics are caught (`AIGW_STATUS_INTERNAL`),
//! pointer arguments are checked for NULL and strings for UTF-8 before use, errors are handed
//! to the caller's optional `aigw_error **`, out-params are written only on success, and owned
//! objects are freed by one helper, [`free_boxed`].
//!
//! The `unsafe fn`s here restate, in Rust terms, the caller contract the header preamble
//! states in C terms; each exported function's `// SAFETY:` comments say which part of that
//! contract covers each pointer it hands over.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use aigw_core::{Error, ErrorCode};

use crate::error::aigw_error;
use crate::status::aigw_status;

/// Runs `body`; a panic yields `fallback` instead of unwinding into C.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Runs the body of a fallible function. On failure the error is written to `*err` (when `err`
/// is not NULL) and its status returned; on success `*err` is left untouched.
pub(crate) fn call(
    err: *mut *mut aigw_error,
    body: impl FnOnce() -> Result<aigw_status, Error>,
) -> aigw_status {
    match aigw_core::error::catch_panic(body) {
        Ok(status) => status,
        Err(error) => guard(aigw_status::Internal, || report(err, error)),
    }
}

fn report(err: *mut *mut aigw_error, error: Error) -> aigw_status {
    let status = aigw_status::from(error.code);
    if let Some(slot) = NonNull::new(err) {
        // SAFETY: `slot` is not NULL, and the header's "Errors" convention makes a non-NULL
        // `aigw_error **err` point to a writable `aigw_error *`. `write` does not drop the old
        // value, which is a plain pointer the caller owns (or garbage).
        unsafe { slot.as_ptr().write(aigw_error::into_raw(error)) };
    }
    status
}

/// A required NUL-terminated UTF-8 string argument, borrowed for the call.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn input_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    // SAFETY: `optional_str` has the same contract as this function, which our caller upholds.
    unsafe { optional_str(ptr, name) }?
        .ok_or_else(|| Error::invalid_argument(format!("`{name}` must not be NULL")))
}

/// An optional NUL-terminated UTF-8 string argument (NULL means absent).
///
/// # Safety
/// As [`input_str`].
pub(crate) unsafe fn optional_str<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: `ptr` is not NULL (checked above), so by this function's contract it points to a
    // NUL-terminated string that outlives the call: `from_ptr` reads up to that NUL and the
    // borrow does not outlive the string.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|e| {
        Error::invalid_argument(format!(
            "`{name}` is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A required object argument (`const aigw_client *`, ...).
///
/// # Safety
/// `ptr` is NULL or points to a live object of type `T` made by aigw.
pub(crate) unsafe fn object<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: by this function's contract `ptr` is NULL (`as_ref` gives `None`, never
    // dereferencing it) or points to a live, aligned `T` made by aigw and not freed during the
    // call; only shared access is given out, matching the `const` pointer.
    unsafe { ptr.as_ref() }
        .ok_or_else(|| Error::invalid_argument(format!("`{name}` must not be NULL")))
}

/// Frees an object aigw handed to C with `Box::into_raw` (`aigw_client`, `aigw_stream`,
/// `aigw_error`): NULL is a no-op, and a panic while dropping it is caught, never unwinding
/// into C. This is the body of every `aigw_<object>_free`.
///
/// # Safety
/// `ptr` is NULL or came from `Box::<T>::into_raw` and has not been freed yet; nothing uses it
/// (on any thread) once this is called.
pub(crate) unsafe fn free_boxed<T>(ptr: *mut T) {
    guard((), || {
        if !ptr.is_null() {
            // SAFETY: `ptr` is not NULL (checked above), so by this function's contract it came
            // from `Box::<T>::into_raw` and was not freed: the Box is rebuilt exactly once, with
            // the layout it was allocated with, and nothing uses the pointer afterwards.
            drop(unsafe { Box::from_raw(ptr) });
        }
    })
}

/// A required out-param, checked before any work so that nothing is done for a call that
/// could not deliver its result.
pub(crate) struct Out<T>(NonNull<T>);

pub(crate) fn out<T>(ptr: *mut T, name: &str) -> Result<Out<T>, Error> {
    NonNull::new(ptr)
        .map(Out)
        .ok_or_else(|| Error::invalid_argument(format!("`{name}` (an out-param) must not be NULL")))
}

impl<T> Out<T> {
    /// Writes the result; called only once everything else succeeded. The previous value is
    /// not dropped (out-params hold plain pointers and integers).
    ///
    /// # Safety
    /// The pointer given to [`out`] is writable and aligned for a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: the pointer is not NULL (checked by `out`) and, by this method's contract,
        // writable and aligned for a `T`.
        unsafe { self.0.as_ptr().write(value) };
    }
}

/// Text handed to C as an owned `char *` (freed with `aigw_string_free`).
pub(crate) fn owned_string(text: String) -> Result<*mut c_char, Error> {
    CString::new(text).map(CString::into_raw).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!(
                "internal error: text for C holds a NUL byte at offset {}",
                e.nul_position()
            ),
        )
    })
}

/// JSON handed to C as an owned `char *`.
pub(crate) fn owned_json(value: &serde_json::Value) -> Result<*mut c_char, Error> {
    owned_string(value.to_string())
}

/// Text stored for borrowed views (error messages): a NUL byte cannot cross into C, so it is
/// replaced rather than truncating the text silently.
pub(crate) fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal_with_an_error() {
        let mut err: *mut aigw_error = std::ptr::null_mut();
        let status = call(&mut err, || panic!("boom"));
        assert_eq!(status, aigw_status::Internal);
        assert!(!err.is_null());
        // SAFETY: `err` was just written by `call`.
        let error = unsafe { &*err };
        assert_eq!(error.inner().code, ErrorCode::Internal);
        assert!(error.inner().message.contains("boom"));
        // SAFETY: made by aigw, freed once.
        unsafe { crate::error::aigw_error_free(err) };
        assert_eq!(
            call(std::ptr::null_mut(), || panic!("x")),
            aigw_status::Internal
        );
        assert_eq!(guard(7, || panic!("y")), 7);
    }

    #[test]
    fn nul_bytes_in_messages_are_replaced() {
        assert_eq!(c_text("a\0b").to_str().ok(), Some("a\u{FFFD}b"));
        assert!(owned_string("a\0b".to_string()).is_err());
    }

    #[test]
    fn free_boxed_drops_once_ignores_null_and_catches_a_panicking_drop() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        struct Panicky;
        impl Drop for Panicky {
            fn drop(&mut self) {
                panic!("drop panicked");
            }
        }
        // SAFETY: NULL is allowed.
        unsafe { free_boxed(std::ptr::null_mut::<Counted>()) };
        assert_eq!(DROPS.load(Ordering::SeqCst), 0);
        // SAFETY: made by `Box::into_raw` just above, freed once.
        unsafe { free_boxed(Box::into_raw(Box::new(Counted))) };
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        // SAFETY: made by `Box::into_raw` just above, freed once; the panic must not escape.
        unsafe { free_boxed(Box::into_raw(Box::new(Panicky))) };
    }
}
