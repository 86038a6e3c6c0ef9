//! `aigw_cancel_token`: cancels non-streaming calls (`aigw_client_chat_cancellable`) from any
//! thread. It wraps a core [`CancelToken`]; a call takes its own clone of that token when it
//! starts, so the C object may be freed while the call runs without the call noticing.

use aigw_core::{CancelToken, Error};

use crate::boundary::{self, object, out};
use crate::status::aigw_status;

/// A cancel token: made with `aigw_cancel_token_new`, cancelled (for good) with
/// `aigw_cancel_token_cancel` from any thread, freed with `aigw_cancel_token_free`.
pub struct aigw_cancel_token {
    token: CancelToken,
}

impl aigw_cancel_token {
    /// The core token (for Rust callers and tests).
    pub fn inner(&self) -> &CancelToken {
        &self.token
    }
}

/// Calls on other threads read the token while one thread cancels it.
const _: fn() = || {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<aigw_cancel_token>();
};

/// The call's own clone of the core token behind `ptr` (NULL is `INVALID_ARGUMENT`). The
/// borrow of the C object ends inside this function, so freeing the C object afterwards (on
/// another thread, while the call runs) does not touch what the call holds.
///
/// # Safety
/// `ptr` is NULL or a live token made by aigw, not freed before this function returns.
pub(crate) unsafe fn token_of(ptr: *const aigw_cancel_token) -> Result<CancelToken, Error> {
    // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by this function's contract,
    // `ptr` is a live token made by aigw. Only shared access is used (cloning the `Arc` inside
    // the core token), which is sound while other threads cancel the same token.
    let token = unsafe { object(ptr, "token") }?;
    Ok(token.token.clone())
}

/// Makes a cancel token, not cancelled, for `aigw_client_chat_cancellable`.
///
/// On `AIGW_STATUS_OK`, `*token_out` receives a token to free with `aigw_cancel_token_free`.
/// Returns `AIGW_STATUS_INVALID_ARGUMENT` when `token_out` is NULL (nothing is made). No I/O.
/// Thread-safe.
///
/// A token cannot be reset: once cancelled it stays cancelled, and every call given it later
/// returns `AIGW_STATUS_CANCELLED` at once. Make a new token for each call (or group of calls)
/// you may want to cancel.
#[no_mangle]
pub unsafe extern "C" fn aigw_cancel_token_new(
    token_out: *mut *mut aigw_cancel_token,
) -> aigw_status {
    boundary::call(std::ptr::null_mut(), || {
        let token_out = out(token_out, "token_out")?;
        let token = Box::into_raw(Box::new(aigw_cancel_token {
            token: CancelToken::new(),
        }));
        // SAFETY: `token_out` is a non-NULL `aigw_cancel_token **` out-param (checked by `out`),
        // writable for an `aigw_cancel_token *` by the header's "Out-params" convention.
        unsafe { token_out.write(token) };
        Ok(aigw_status::Ok)
    })
}

/// Cancels the token: every call using it ends with `AIGW_STATUS_CANCELLED` within about 100 ms
/// (whether it is waiting for its answer, reading it, or waiting between retries), drops its
/// connection and is not retried; calls given the token later return `AIGW_STATUS_CANCELLED` at
/// once, without I/O. A connection attempt already under way is not interrupted (it is bounded by
/// the profile's `connect_timeout_ms`); the call then ends with `AIGW_STATUS_CANCELLED`. A
/// cancelled token stays cancelled.
///
/// Thread-safe: may be called from any thread, also while other threads are inside calls using
/// the token, as long as the token has not been freed. Cancelling twice is harmless. Returns
/// `AIGW_STATUS_OK`, or `AIGW_STATUS_INVALID_ARGUMENT` when `token` is NULL (nothing happens).
#[no_mangle]
pub unsafe extern "C" fn aigw_cancel_token_cancel(token: *const aigw_cancel_token) -> aigw_status {
    boundary::call(std::ptr::null_mut(), || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise `token` is a token aigw
        // returned that this function's comment requires not to be freed yet. Cancelling is an
        // atomic store through a shared borrow, so calls on other threads reading the token are
        // fine.
        let token = unsafe { object(token, "token") }?;
        token.token.cancel();
        Ok(aigw_status::Ok)
    })
}

/// Frees a token. NULL is a no-op. Calls already running with the token are not affected: each
/// holds its own reference to the token's state (taken when it started), so a cancel made before
/// the free still ends them, and they finish normally otherwise. The token must not be passed to
/// any function after this, nor freed while a call is just being handed it on another thread
/// (free it once that call returned, or once you know it started).
#[no_mangle]
pub unsafe extern "C" fn aigw_cancel_token_free(token: *mut aigw_cancel_token) {
    // SAFETY: NULL is allowed ("Every _free function accepts NULL"); otherwise, by the
    // "Ownership" convention, `token` came from `aigw_cancel_token_new` (a `Box::into_raw`), is
    // freed once, and by this function's comment no function is still reading the C object:
    // running calls hold their own `CancelToken` clone (see `token_of`), not a borrow of it.
    unsafe { boundary::free_boxed(token) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_token() -> *mut aigw_cancel_token {
        let mut token: *mut aigw_cancel_token = std::ptr::null_mut();
        // SAFETY: `token` is a writable out-param.
        let status = unsafe { aigw_cancel_token_new(&mut token) };
        assert_eq!(status, aigw_status::Ok);
        assert!(!token.is_null());
        token
    }

    #[test]
    fn a_token_starts_uncancelled_and_stays_cancelled() {
        let token = new_token();
        // SAFETY: made just above, not freed yet.
        let core = unsafe { token_of(token) }.expect("a live token");
        assert!(!core.is_set());
        for _ in 0..2 {
            // SAFETY: live token; cancelling twice is allowed.
            assert_eq!(unsafe { aigw_cancel_token_cancel(token) }, aigw_status::Ok);
        }
        // The clone taken before the cancel shares the state, also after the C object is gone.
        // SAFETY: made by `aigw_cancel_token_new`, freed once.
        unsafe { aigw_cancel_token_free(token) };
        assert!(core.is_set());
    }

    #[test]
    fn null_arguments() {
        // SAFETY: NULL is allowed (and reported) by each of these.
        unsafe {
            assert_eq!(
                aigw_cancel_token_new(std::ptr::null_mut()),
                aigw_status::InvalidArgument
            );
            assert_eq!(
                aigw_cancel_token_cancel(std::ptr::null()),
                aigw_status::InvalidArgument
            );
            aigw_cancel_token_free(std::ptr::null_mut());
            let error = token_of(std::ptr::null()).expect_err("NULL is refused");
            assert_eq!(error.code, aigw_core::ErrorCode::InvalidArgument);
            assert!(error.message.contains("`token`"), "{}", error.message);
        }
    }

    #[test]
    fn cancel_from_another_thread() {
        let token = new_token();
        // SAFETY: live token.
        let core = unsafe { token_of(token) }.expect("a live token");
        let address = token as usize;
        std::thread::spawn(move || {
            // SAFETY: the token is freed only after this thread was joined.
            let status = unsafe { aigw_cancel_token_cancel(address as *const aigw_cancel_token) };
            assert_eq!(status, aigw_status::Ok);
        })
        .join()
        .expect("the cancelling thread ends");
        assert!(core.is_set());
        // SAFETY: made by `aigw_cancel_token_new`, freed once, no other user left.
        unsafe { aigw_cancel_token_free(token) };
    }
}
