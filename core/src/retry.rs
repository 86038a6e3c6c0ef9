//! The retry policy (docs/contract.md §6) and the attempt loop: which classified answer earns
//! another key, another attempt after a delay, or an end; the backoff with jitter; the bound on
//! a server-requested delay. One call of [`run`] is one model's worth of attempts.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::http::Response;
use ureq::Body;

use crate::cancel::{cancelled_error, CancelToken};
use crate::classify::Refusal;
use crate::error::{Attempt, Error, ErrorCode};
use crate::profile::Profile;
use crate::transport::Answer;

/// How many attempts a call gets and how long it waits between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per model, the first included.
    pub max_attempts: u64,
    /// First backoff delay.
    pub initial_backoff_ms: u64,
    /// Largest backoff delay, and the largest server-requested delay honoured.
    pub max_backoff_ms: u64,
}

impl RetryPolicy {
    /// The policy of a (clamped) profile.
    pub fn of(profile: &Profile) -> RetryPolicy {
        RetryPolicy {
            max_attempts: profile.retry_max_attempts,
            initial_backoff_ms: profile.retry_initial_backoff_ms,
            max_backoff_ms: profile.retry_max_backoff_ms,
        }
    }

    /// The delay before retry number `retry_index` (0 for the first retry).
    pub fn backoff(&self, retry_index: u32) -> u64 {
        backoff_delay(retry_index, self.initial_backoff_ms, self.max_backoff_ms)
    }

    /// What to do after a refused attempt: `retries` retries were made so far and `keys_left`
    /// other keys of the pool were not tried yet.
    pub fn decide(&self, refusal: &Refusal, retries: u32, keys_left: bool) -> Decision {
        if refusal.gateway.is_some() {
            // The gateway's own refusals (its token, spending limit, policy) are the same
            // whichever provider key is sent, and retrying does not lift them.
            return Decision::Stop;
        }
        if refusal.key_refused && keys_left {
            return Decision::NextKey;
        }
        if !refusal.retryable || u64::from(retries) + 1 >= self.max_attempts {
            return Decision::Stop;
        }
        match refusal.error.retry_after_ms {
            Some(server) if server > self.max_backoff_ms => Decision::ServerDelayTooLong(server),
            Some(server) => Decision::RetryAfter(server),
            None => Decision::RetryAfter(self.backoff(retries)),
        }
    }
}

/// The policy's answer to one refused attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send again at once with the next key of the pool.
    NextKey,
    /// Send again with the same key after this many milliseconds.
    RetryAfter(u64),
    /// The server asked for a longer wait than the policy allows: stop and say so.
    ServerDelayTooLong(u64),
    /// Nothing more can help.
    Stop,
}

/// How a model's attempts ended.
pub enum Outcome {
    /// A 2xx answer, its body unread.
    Answered(Response<Body>),
    /// The last error, with the attempt history attached.
    Failed {
        /// What the caller gets.
        error: Error,
        /// Whether the error is about the model (the next candidate may work).
        model_shaped: bool,
    },
}

/// The key pool's moving start: a key refused once is not the first tried next time.
pub struct KeyCursor<'a> {
    /// Shared by every call of the client.
    pub cursor: &'a AtomicUsize,
    /// Keys in the pool (at least 1).
    pub size: usize,
}

/// Where the attempt loop stands: the key in use, how many keys and retries were spent, and
/// the delay before the next attempt.
struct Progress {
    key_index: usize,
    keys_tried: usize,
    retries: u32,
    delay_ms: u64,
}

/// Sends with `send(key_index)` until an answer, a decision to stop, or cancellation; appends
/// every attempt (status or error, model, key, delay) to `attempts`.
///
/// Longer than most functions on purpose: the loop reads top to bottom as one attempt (wait,
/// send, record, decide), and each outcome's handling is a few lines next to its cause.
pub fn run(
    policy: RetryPolicy,
    keys: KeyCursor<'_>,
    model: &str,
    cancel: Option<&CancelToken>,
    attempts: &mut Vec<Attempt>,
    mut send: impl FnMut(usize) -> crate::error::Result<Answer>,
) -> Outcome {
    let pool = keys.size.max(1);
    let mut at = Progress {
        key_index: keys.cursor.load(Ordering::Relaxed) % pool,
        keys_tried: 1,
        retries: 0,
        delay_ms: 0,
    };
    loop {
        if !wait(cancel, at.delay_ms) {
            return failed(cancelled_error("request"), attempts, false);
        }
        let mut attempt = Attempt {
            status: None,
            error: None,
            model: model.to_string(),
            key_index: at.key_index,
            delay_ms: at.delay_ms,
        };
        let refusal = match send(at.key_index) {
            Ok(Answer::Success(response)) => {
                attempt.status = Some(response.status().as_u16());
                attempts.push(attempt);
                return Outcome::Answered(response);
            }
            Ok(Answer::Refused(refusal)) => refusal,
            Err(error) => {
                attempt.error = Some(error.code);
                attempts.push(attempt);
                let transient = matches!(error.code, ErrorCode::Timeout | ErrorCode::Connection);
                if !transient || u64::from(at.retries) + 1 >= policy.max_attempts {
                    return failed(error, attempts, false);
                }
                at.delay_ms = policy.backoff(at.retries);
                at.retries += 1;
                continue;
            }
        };
        attempt.status = Some(refusal.status);
        attempt.error = Some(refusal.error.code);
        attempts.push(attempt);
        match policy.decide(&refusal, at.retries, at.keys_tried < pool) {
            Decision::NextKey => {
                at.key_index = (at.key_index + 1) % pool;
                at.keys_tried += 1;
                keys.cursor.store(at.key_index, Ordering::Relaxed);
                at.delay_ms = 0;
            }
            Decision::RetryAfter(ms) => {
                at.delay_ms = ms;
                at.retries += 1;
            }
            Decision::ServerDelayTooLong(server) => {
                let mut error = refusal.error;
                error.message.push_str(&format!(
                    "; the server asked to wait {server} ms, more than retry_max_backoff_ms ({} ms), so aigw did not wait",
                    policy.max_backoff_ms
                ));
                return failed(error, attempts, false);
            }
            Decision::Stop => {
                let model_shaped = refusal.model_shaped && refusal.gateway.is_none();
                return failed(refusal.error, attempts, model_shaped);
            }
        }
    }
}

/// Sleeps `delay_ms` unless cancelled first; `false` when the call is cancelled.
fn wait(cancel: Option<&CancelToken>, delay_ms: u64) -> bool {
    let delay = Duration::from_millis(delay_ms);
    match cancel {
        Some(token) => token.sleep(delay) && !token.is_cancelled(),
        None => {
            std::thread::sleep(delay);
            true
        }
    }
}

fn failed(mut error: Error, attempts: &[Attempt], model_shaped: bool) -> Outcome {
    error.attempts = attempts.to_vec();
    Outcome::Failed {
        error,
        model_shaped,
    }
}

/// Exponential backoff with jitter: `min(initial × 2^n, max) × U[0.75, 1]`.
pub fn backoff_delay(retry_index: u32, initial_ms: u64, max_ms: u64) -> u64 {
    let base = initial_ms
        .saturating_mul(1u64 << retry_index.min(30))
        .min(max_ms);
    (base as f64 * (0.75 + 0.25 * unit_random())) as u64
}

/// A cheap uniform number in [0, 1) (splitmix64 over a time-seeded counter); jitter only.
fn unit_random() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bounds() {
        for n in 0..10 {
            let d = backoff_delay(n, 300, 3000);
            let base = (300u64 << n).min(3000);
            assert!(d >= base * 3 / 4 && d <= base, "{n}: {d}");
        }
    }

    fn refusal(status: u16, body: &str) -> Refusal {
        crate::classify::classify(
            status,
            &ureq::http::HeaderMap::new(),
            body.as_bytes(),
            "http://u",
            &crate::scrub::Scrubber::default(),
        )
    }

    #[test]
    fn decisions() {
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
        };
        let token = refusal(
            401,
            r#"{"success":false,"error":[{"code":2009,"message":"Unauthorized"}]}"#,
        );
        assert_eq!(policy.decide(&token, 0, true), Decision::Stop);
        assert_eq!(
            policy.decide(&refusal(401, "{}"), 0, true),
            Decision::NextKey
        );
        assert_eq!(policy.decide(&refusal(401, "{}"), 0, false), Decision::Stop);
        assert!(matches!(
            policy.decide(&refusal(503, "{}"), 0, false),
            Decision::RetryAfter(75..=100)
        ));
        assert_eq!(policy.decide(&refusal(503, "{}"), 2, false), Decision::Stop);
        assert_eq!(policy.decide(&refusal(400, "{}"), 0, false), Decision::Stop);
    }
}
