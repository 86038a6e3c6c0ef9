//! Cancelling a call in flight. A [`CancelToken`] is passed down explicitly with the request
//! (`RequestOptions::cancel`, or the one a stream makes for itself); the transport looks at it
//! while it waits for bytes, between retries and before each attempt, and a cancelled call ends
//! with `CANCELLED` and drops its connection.
//!
//! A token may also carry a poll function, asked at the same moments: the Python binding uses one
//! to notice Ctrl-C while a call blocks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode};

/// How often a waiting call looks at its token.
pub const CANCEL_POLL: Duration = Duration::from_millis(100);

type Poll = dyn Fn() -> bool + Send + Sync;

#[derive(Default)]
struct State {
    cancelled: AtomicBool,
    poll: Option<Box<Poll>>,
}

/// Cancels one call (or one stream) from any thread. Cheap to clone; clones share the state.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<State>);

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CancelToken(cancelled: {})", self.is_set())
    }
}

impl PartialEq for CancelToken {
    fn eq(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl CancelToken {
    /// A token that is cancelled only by [`CancelToken::cancel`].
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// A token that also counts as cancelled once `poll` returns true. `poll` runs on the
    /// thread doing the I/O, every [`CANCEL_POLL`] while it waits, so it must be cheap.
    pub fn with_poll(poll: impl Fn() -> bool + Send + Sync + 'static) -> CancelToken {
        CancelToken(Arc::new(State {
            cancelled: AtomicBool::new(false),
            poll: Some(Box::new(poll)),
        }))
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was requested, asking the poll function first.
    pub fn is_cancelled(&self) -> bool {
        if self.is_set() {
            return true;
        }
        if self.0.poll.as_ref().is_some_and(|poll| poll()) {
            self.cancel();
            return true;
        }
        false
    }

    /// Whether cancellation was requested, without asking the poll function.
    pub fn is_set(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Sleeps for `duration`, waking early (with `false`) when cancelled.
    pub fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(CANCEL_POLL));
        }
    }
}

/// The error of a cancelled call.
pub fn cancelled_error(what: &str) -> Error {
    Error::new(
        ErrorCode::Cancelled,
        format!("the {what} was cancelled by the caller"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn poll_cancels_once_and_sticks() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let token = CancelToken::with_poll(move || seen.fetch_add(1, Ordering::SeqCst) >= 1);
        assert!(!token.is_cancelled());
        assert!(token.is_cancelled());
        assert!(token.is_set());
        assert!(token.is_cancelled());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn sleep_wakes_on_cancel() {
        let token = CancelToken::new();
        let other = token.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || other.sleep(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        token.cancel();
        assert!(!t.join().unwrap_or(true));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
