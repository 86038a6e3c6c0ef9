//! The native half of an `AbortSignal`: `index.js` makes one [`NativeCancel`] per call that has
//! a signal, hands it to the call, and calls `cancel()` from the signal's `abort` listener. It
//! wraps core's `CancelToken`, so an abort reaches the transport (reads end within
//! `CANCEL_POLL`, 100 ms, and the connection is dropped) and the retry loop (no further attempt).

use aigw_core::cancel::cancelled_error;
use aigw_core::{CancelToken, Error};
use napi_derive::napi;

/// Cancels one call from JavaScript (what an `AbortSignal`'s `abort` does).
#[napi]
#[derive(Default)]
pub struct NativeCancel {
    token: CancelToken,
}

#[napi]
impl NativeCancel {
    /// A handle that is not cancelled yet.
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeCancel::default()
    }

    /// Cancels the call this handle was given to; calling it again does nothing.
    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

impl NativeCancel {
    pub(crate) fn token(&self) -> CancelToken {
        self.token.clone()
    }
}

/// `CANCELLED` when `token` was cancelled before the call started: no I/O at all (core would
/// still pick a model first, and the catalog fetch behind `model: "auto"` is not cancellable).
pub(crate) fn check(token: Option<&CancelToken>) -> Result<(), Error> {
    match token {
        Some(token) if token.is_set() => Err(cancelled_error("request")),
        _ => Ok(()),
    }
}
