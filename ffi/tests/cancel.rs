//! `aigw_client_chat_cancellable` through the C functions, with the mock's own counters as the
//! witness: a token cancelled beforehand opens no connection (not even for the model catalog),
//! a cancel during a held-back answer drops the connection and sends no retry, and one token
//! cancels every call sharing it.

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use aigw::cancel::{
    aigw_cancel_token, aigw_cancel_token_cancel, aigw_cancel_token_free, aigw_cancel_token_new,
};
use aigw::client::{aigw_client, aigw_client_chat_cancellable, aigw_client_free, aigw_client_new};
use aigw::error::{aigw_error, aigw_error_free};
use aigw::status::aigw_status;
use aigw::strings::aigw_string_free;
use aigw_core::ErrorCode;
use aigw_mock::{MockConfig, MockGateway};

const KEY: &str = "test-key";
const MODEL: &str = "openai/gpt-4o-mini";

fn mock() -> MockGateway {
    MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        lifetime: Duration::from_secs(120),
        ..Default::default()
    })
    .expect("the mock gateway starts on 127.0.0.1")
}

/// A client on the mock; `model` None means auto discovery (the catalog is fetched first).
fn client(mock: &MockGateway, model: Option<&str>) -> *mut aigw_client {
    let mut profile = serde_json::json!({
        "kind": "cloudflare",
        "base_url": mock.base_url("0123456789abcdef0123456789abcdef", "cancel-tests"),
        "api_key": KEY,
        "retry_max_attempts": 3,
        "retry_initial_backoff_ms": 50,
    });
    if let Some(model) = model {
        profile["model"] = model.into();
    }
    let profile = CString::new(profile.to_string()).expect("no NUL");
    let mut client = ptr::null_mut();
    // SAFETY: a NUL-terminated profile and a writable out-param; no error out-param.
    let status = unsafe { aigw_client_new(profile.as_ptr(), &mut client, ptr::null_mut()) };
    assert_eq!(status, aigw_status::Ok);
    client
}

fn new_token() -> *mut aigw_cancel_token {
    let mut token = ptr::null_mut();
    // SAFETY: a writable out-param.
    assert_eq!(
        unsafe { aigw_cancel_token_new(&mut token) },
        aigw_status::Ok
    );
    token
}

/// One cancellable chat: its status, the error's code and attempts (when it failed).
struct Outcome {
    status: aigw_status,
    code: Option<ErrorCode>,
    attempts: usize,
    answer: Option<String>,
}

/// # Safety
/// `client` and `token` are live objects made by aigw.
unsafe fn chat(
    client: *const aigw_client,
    token: *const aigw_cancel_token,
    fault: Option<&str>,
) -> Outcome {
    let request = CString::new(r#"{"messages":[{"role":"user","content":"hi"}]}"#).expect("no NUL");
    let options = fault.map(|f| {
        CString::new(serde_json::json!({"headers": {"x-mock-fault": f}}).to_string())
            .expect("no NUL")
    });
    let options_ptr = options.as_ref().map_or(ptr::null(), |o| o.as_ptr());
    let mut response: *mut c_char = ptr::null_mut();
    let mut err: *mut aigw_error = ptr::null_mut();
    // SAFETY: live objects by this function's contract, NUL-terminated strings that outlive the
    // call, writable out-params.
    let status = unsafe {
        aigw_client_chat_cancellable(
            client,
            request.as_ptr(),
            options_ptr,
            token,
            &mut response,
            &mut err,
        )
    };
    let answer = (!response.is_null()).then(|| {
        // SAFETY: written by the call on success: a NUL-terminated string aigw owns.
        let text = unsafe { CStr::from_ptr(response) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: made by aigw, freed once.
        unsafe { aigw_string_free(response) };
        text
    });
    // SAFETY: NULL or an error the call just made.
    let (code, attempts) = match unsafe { err.as_ref() } {
        Some(e) => (Some(e.inner().code), e.inner().attempts.len()),
        None => (None, 0),
    };
    // SAFETY: NULL or an error the call made, freed once.
    unsafe { aigw_error_free(err) };
    Outcome {
        status,
        code,
        attempts,
        answer,
    }
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_already_cancelled_token_opens_no_connection_not_even_for_the_catalog() {
    let mock = mock();
    let discovering = client(&mock, None);
    let explicit = client(&mock, Some(MODEL));
    let token = new_token();
    // SAFETY: live token.
    assert_eq!(unsafe { aigw_cancel_token_cancel(token) }, aigw_status::Ok);
    for client in [discovering, explicit] {
        let started = Instant::now();
        // SAFETY: live client and token.
        let outcome = unsafe { chat(client, token, None) };
        assert_eq!(outcome.status, aigw_status::Cancelled);
        assert_eq!(outcome.code, Some(ErrorCode::Cancelled));
        assert_eq!(outcome.attempts, 0);
        assert!(outcome.answer.is_none());
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    assert_eq!(mock.connections_opened(), 0);
    assert!(mock.requests().is_empty());
    // SAFETY: each made by aigw, freed once, no other user.
    unsafe {
        aigw_cancel_token_free(token);
        aigw_client_free(discovering);
        aigw_client_free(explicit);
    }
}

#[test]
fn a_cancel_during_a_held_back_answer_drops_the_connection_and_is_not_retried() {
    let mock = mock();
    let client = client(&mock, Some(MODEL));
    let token = new_token();
    let (client_address, token_address) = (client as usize, token as usize);
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let caller = scope.spawn(move || {
            // SAFETY: client and token stay live until after this scope.
            let outcome = unsafe {
                chat(
                    client_address as *const aigw_client,
                    token_address as *const aigw_cancel_token,
                    Some("delay_ms=2500"),
                )
            };
            (outcome, Instant::now())
        });
        wait_until(
            "the request to reach the mock",
            Duration::from_secs(10),
            || mock.count_path_suffix("/chat/completions") == 1,
        );
        std::thread::sleep(Duration::from_millis(100));
        let cancelled_at = Instant::now();
        // SAFETY: live token (freed after the scope).
        assert_eq!(unsafe { aigw_cancel_token_cancel(token) }, aigw_status::Ok);
        let (outcome, returned_at) = caller.join().expect("the calling thread ends");
        let after_cancel = returned_at.duration_since(cancelled_at);
        assert!(
            after_cancel < Duration::from_millis(1000),
            "{after_cancel:?}"
        );
        outcome
    });
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(outcome.status, aigw_status::Cancelled);
    assert_eq!(outcome.code, Some(ErrorCode::Cancelled));
    assert_eq!(outcome.attempts, 1);
    // The client is still alive, so only a dropped (not pooled) connection is seen closed: the
    // mock notices once its held-back answer finds nobody reading.
    wait_until("the connection to close", Duration::from_secs(10), || {
        mock.connections_closed() == mock.connections_opened()
    });
    assert_eq!(mock.connections_opened(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        mock.count_path_suffix("/chat/completions"),
        1,
        "a retry was sent"
    );
    assert_eq!(mock.connections_opened(), 1);
    // SAFETY: each made by aigw, freed once, no other user.
    unsafe {
        aigw_cancel_token_free(token);
        aigw_client_free(client);
    }
}

#[test]
fn one_token_cancels_every_call_sharing_it_and_may_be_freed_meanwhile() {
    const CALLS: usize = 4;
    let mock = mock();
    let client = client(&mock, Some(MODEL));
    let token = new_token();
    let (client_address, token_address) = (client as usize, token as usize);
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..CALLS)
            .map(|_| {
                scope.spawn(move || {
                    // SAFETY: the client outlives the scope; the token is live until every
                    // call has reached the mock (so each holds its own reference by then).
                    unsafe {
                        chat(
                            client_address as *const aigw_client,
                            token_address as *const aigw_cancel_token,
                            Some("delay_ms=2500"),
                        )
                    }
                })
            })
            .collect();
        wait_until(
            "every request to reach the mock",
            Duration::from_secs(10),
            || mock.count_path_suffix("/chat/completions") == CALLS,
        );
        let cancelled_at = Instant::now();
        // SAFETY: live token, then freed once while the calls run (they hold their own clones).
        unsafe {
            assert_eq!(aigw_cancel_token_cancel(token), aigw_status::Ok);
            aigw_cancel_token_free(token);
        }
        for caller in callers {
            let outcome = caller.join().expect("a calling thread ends");
            assert_eq!(outcome.status, aigw_status::Cancelled);
            assert_eq!(outcome.attempts, 1);
        }
        assert!(cancelled_at.elapsed() < Duration::from_millis(1500));
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mock.count_path_suffix("/chat/completions"), CALLS);

    // An uncancelled token: a normal answer.
    let fresh = new_token();
    // SAFETY: live client and token.
    let outcome = unsafe { chat(client, fresh, None) };
    assert_eq!(outcome.status, aigw_status::Ok);
    let answer: serde_json::Value =
        serde_json::from_str(outcome.answer.as_deref().unwrap_or("")).expect("JSON answer");
    assert_eq!(answer["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(answer["aigw"]["model"], MODEL);
    // SAFETY: each made by aigw, freed once, no other user.
    unsafe {
        aigw_cancel_token_free(fresh);
        aigw_client_free(client);
    }
}
