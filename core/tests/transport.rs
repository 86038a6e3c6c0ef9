//! Integration tests of the transport against the in-process mock gateway (docs/contract.md §5–§7, §11).
//! Each test starts its own mock on 127.0.0.1 with an OS-chosen port.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::{json, Value};

const KEY: &str = "test-key-5a6b7c";

fn mock() -> MockGateway {
    MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .expect("mock starts")
}

fn env() -> Env {
    Env::from_map(HashMap::from([(
        "CLOUDFLARE_API_KEY".to_string(),
        KEY.to_string(),
    )]))
}

/// A client for `mock`; `extra` is merged into the profile.
fn client(mock: &MockGateway, extra: Value) -> Client {
    let mut profile = json!({
        "kind": "cloudflare",
        "base_url": mock.base_url("0123456789abcdef0123456789abcdef", "test-gw"),
        "retry_initial_backoff_ms": 50,
        "retry_max_backoff_ms": 3000,
    });
    for (k, v) in extra.as_object().expect("object") {
        profile[k] = v.clone();
    }
    Client::with_env(
        Profile::from_value(&profile, "provider").expect("profile"),
        env(),
    )
    .expect("client")
}

fn fault(spec: &str) -> RequestOptions {
    RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } })).expect("options")
}

fn hello() -> Value {
    json!({ "messages": [{ "role": "user", "content": "hello" }] })
}

fn assert_mock_sees_close(m: &MockGateway, closed_before: usize) {
    assert!(
        m.wait_closed_beyond(closed_before, Duration::from_secs(10)) > closed_before,
        "the mock saw the connection close"
    );
}

fn no_key(text: &str) {
    assert!(!text.contains(KEY), "key leaked: {text}");
}

#[test]
fn pinned_model_chats_without_any_catalog_request() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let r = c.chat(hello(), &RequestOptions::default()).expect("chat");
    assert_eq!(r["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(r["aigw"]["model"], "openai/gpt-4o-mini");
    assert_eq!(r["aigw"]["status"], 200);
    assert!(r["aigw"]["cf_aig_log_id"].is_string());
    assert!(r["aigw"]["request_id"].is_string());
    assert_eq!(r["aigw"]["cache_status"], "MISS");
    assert_eq!(r["aigw"]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(m.count_path_suffix("/models"), 0);
    assert_eq!(m.count_path_suffix("/chat/completions"), 1);
    let req = &m.requests()[0];
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[test]
fn request_body_passes_through_with_model_filled() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let body = json!({ "messages": [{ "role": "user", "content": "x" }], "temperature": 0.2, "x_custom": { "a": [1, 2] } });
    c.chat(body, &RequestOptions::default()).expect("chat");
    let sent = m.requests()[0].json().expect("json body");
    assert_eq!(sent["x_custom"], json!({ "a": [1, 2] }));
    assert_eq!(sent["temperature"], 0.2);
    assert_eq!(sent["model"], "openai/gpt-4o-mini");
    let with_model =
        json!({ "model": "openai/gpt-4o", "messages": [{ "role": "user", "content": "y" }] });
    let r = c
        .chat(with_model, &RequestOptions::default())
        .expect("chat");
    assert_eq!(
        r["aigw"]["model"], "openai/gpt-4o",
        "the request's model overrides selection"
    );
}

#[test]
fn auto_with_preferred_uses_the_first_preferred_model_in_the_catalog() {
    let m = mock();
    let c = client(
        &m,
        json!({ "preferred_models": ["openai/not-listed", "OPENAI/GPT-4O", "openai/gpt-4o-mini"] }),
    );
    let r = c.chat(hello(), &RequestOptions::default()).expect("chat");
    assert_eq!(r["aigw"]["model"], "openai/gpt-4o");
    c.chat(hello(), &RequestOptions::default())
        .expect("second chat");
    assert_eq!(m.count_path_suffix("/models"), 1, "the catalog is cached");
}

#[test]
fn catalog_failure_falls_back_to_preferred_or_fails_with_the_recovery_text() {
    let m = mock();
    let broken = json!({ "x-mock-fault": "models:status=500" });
    let c = client(
        &m,
        json!({ "headers": broken, "preferred_models": ["openai/gpt-4o"], "retry_max_attempts": 1 }),
    );
    let r = c.chat(hello(), &RequestOptions::default()).expect("chat");
    assert_eq!(r["aigw"]["model"], "openai/gpt-4o");

    let c = client(&m, json!({ "headers": broken, "retry_max_attempts": 1 }));
    let e = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::ModelSelection);
    assert!(
        e.message.contains("list-models is unreliable for this account or region: pin an explicit provider.model or add preferred_models"),
        "{}",
        e.message
    );
}

#[test]
fn model_shaped_errors_fall_forward_to_the_next_candidate() {
    let m = mock();
    let c = client(
        &m,
        json!({ "headers": { "x-mock-fault": "models:status=500" }, "retry_max_attempts": 1,
                "preferred_models": ["openai/does-not-exist", "openai/gpt-4o"] }),
    );
    let r = c.chat(hello(), &RequestOptions::default()).expect("chat");
    assert_eq!(r["aigw"]["model"], "openai/gpt-4o");
    let attempts = r["aigw"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], 404);
    assert_eq!(attempts[0]["model"], "openai/does-not-exist");
}

#[test]
fn a_refused_key_is_auth_with_provider_code_and_no_retry() {
    let m = mock();
    let c = client(
        &m,
        json!({ "api_key": "wrong-key", "model": "openai/gpt-4o-mini" }),
    );
    let e = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth);
    assert_eq!(e.http_status, Some(401));
    assert_eq!(e.provider_code.as_deref(), Some("invalid_api_key"));
    assert!(e.message.contains("Incorrect API key"), "{}", e.message);
    assert_eq!(e.attempts.len(), 1);
    assert_eq!(m.count_path_suffix("/chat/completions"), 1);
    assert!(!e.message.contains("wrong-key"));
}

#[test]
fn key_pool_falls_forward_on_401() {
    let m = mock();
    let c = client(
        &m,
        json!({ "api_key": format!("bad-key, {KEY}"), "model": "openai/gpt-4o-mini" }),
    );
    let r = c.chat(hello(), &RequestOptions::default()).expect("chat");
    let attempts = r["aigw"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (
            attempts[0]["status"].clone(),
            attempts[0]["key_index"].clone()
        ),
        (json!(401), json!(0))
    );
    assert_eq!(
        (
            attempts[1]["status"].clone(),
            attempts[1]["key_index"].clone()
        ),
        (json!(200), json!(1))
    );
    c.chat(hello(), &RequestOptions::default()).expect("chat");
    assert_eq!(
        m.count_path_suffix("/chat/completions"),
        3,
        "the good key is remembered"
    );
}

#[test]
fn retry_after_429_then_success_waits_the_given_delay() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let started = Instant::now();
    let r = c
        .chat(hello(), &fault("status=429;retry_after=1;tag=a;times=1"))
        .expect("chat");
    let attempts = r["aigw"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], 429);
    assert_eq!(attempts[1]["delay_ms"], 1000);
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(m.count_path_suffix("/chat/completions"), 2);
}

#[test]
fn persistent_429_is_rate_limited_with_retry_after_and_full_history() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = c
        .chat(hello(), &fault("status=429;retry_after_ms=60"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.retry_after_ms, Some(60));
    assert_eq!(e.attempts.len(), 3);
    assert!(e
        .attempts
        .iter()
        .all(|a| a.status == Some(429) && a.error == Some(ErrorCode::RateLimited)));
    assert_eq!(e.attempts[1].delay_ms, 60);
    no_key(&e.to_string());
}

#[test]
fn retry_after_above_the_max_backoff_fails_at_once() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = c
        .chat(hello(), &fault("status=429;retry_after=10"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.retry_after_ms, Some(10_000));
    assert_eq!(e.attempts.len(), 1, "no retry was slept");
    let e = c
        .chat(hello(), &fault("status=429;retry_after_date=10"))
        .unwrap_err();
    assert!(
        e.retry_after_ms
            .is_some_and(|ms| (8_000..=10_000).contains(&ms)),
        "{:?}",
        e.retry_after_ms
    );
    assert_eq!(e.attempts.len(), 1);
}

#[test]
fn insufficient_quota_is_not_retried() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = c
        .chat(hello(), &fault("status=429;error_code=insufficient_quota"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert_eq!(e.provider_code.as_deref(), Some("insufficient_quota"));
    assert_eq!(e.attempts.len(), 1);
}

#[test]
fn status_503_is_retried_and_400_is_not() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let r = c
        .chat(hello(), &fault("status=503;tag=b;times=1"))
        .expect("chat");
    assert_eq!(r["aigw"]["attempts"].as_array().unwrap().len(), 2);
    let e = c.chat(hello(), &fault("status=400")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Provider);
    assert_eq!(e.http_status, Some(400));
    assert_eq!(e.provider_code.as_deref(), Some("mock_400"));
    assert_eq!(e.attempts.len(), 1);
}

#[test]
fn invalid_provider_is_a_provider_error_with_code_2008() {
    let m = mock();
    let c = client(&m, json!({ "model": "nonsense-model" }));
    let e = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::Provider);
    assert_eq!(e.provider_code.as_deref(), Some("2008"));
    assert!(e.message.contains("Invalid provider"), "{}", e.message);
}

fn content_of(n: usize) -> String {
    "héllo wörld 🦀 中文 ".chars().cycle().take(n).collect()
}

fn reassemble(c: &Client, options: &RequestOptions) -> aigw_core::Result<(String, usize)> {
    let mut stream = c.chat_stream(hello(), options)?;
    let mut text = String::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next_chunk()? {
        // The usage-only chunk at the end (aigw asks for usage) carries no choices.
        if chunk.value["choices"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
        {
            chunks += 1;
        }
        if let Some(t) = chunk.value["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
    }
    Ok((text, chunks))
}

#[test]
fn a_500_chunk_stream_split_mid_utf8_reassembles_exactly() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let (text, chunks) =
        reassemble(&c, &fault("chunks=500;content_len=1500;utf8_split")).expect("stream");
    assert_eq!(chunks, 500);
    assert_eq!(text, content_of(1500));
    let (text, _) = reassemble(
        &c,
        &fault("chunks=50;content_len=200;split_bytes;crlf;bom;comments"),
    )
    .expect("stream");
    assert_eq!(text, content_of(200));
    let (text, _) = reassemble(&c, &fault("chunks=20;content_len=100;cr")).expect("stream");
    assert_eq!(text, content_of(100));
}

#[test]
fn a_reset_mid_stream_is_an_error_never_a_short_success() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = reassemble(&c, &fault("chunks=20;reset_after=5")).unwrap_err();
    assert!(
        matches!(e.code, ErrorCode::Connection | ErrorCode::Protocol),
        "{e}"
    );
    let e = reassemble(&c, &fault("chunks=20;truncate_after=5")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(
        e.message.contains("stream truncated after 5 events"),
        "{}",
        e.message
    );
}

#[test]
fn error_frames_in_a_stream_are_typed_errors() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = reassemble(&c, &fault("sse_error_frame")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Provider);
    assert_eq!(e.provider_code.as_deref(), Some("overloaded"));
    let e = reassemble(&c, &fault("sse_event_error")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Provider);
    assert!(e.message.contains("boom"), "{}", e.message);
    let e = reassemble(&c, &fault("malformed_sse")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    let e = reassemble(&c, &fault("invalid_utf8_sse")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
}

#[test]
fn a_json_answer_to_a_stream_request_is_one_item() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let mut stream = c
        .chat_stream(hello(), &fault("json_for_stream"))
        .expect("stream");
    let item = stream.next_chunk().expect("item").expect("one item");
    assert_eq!(
        item.value["choices"][0]["message"]["content"],
        "echo: hello"
    );
    assert!(stream.next_chunk().expect("end").is_none());
}

#[test]
fn stream_meta_is_available_once_headers_arrived() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let stream = c
        .chat_stream(hello(), &RequestOptions::default())
        .expect("stream");
    assert_eq!(stream.meta()["status"], 200);
    assert_eq!(stream.meta()["model"], "openai/gpt-4o-mini");
    assert!(stream.meta()["cf_aig_log_id"].is_string());
    let sent = m.requests()[0].json().unwrap();
    assert_eq!(sent["stream"], true);
}

#[test]
fn cancel_from_another_thread_returns_cancelled_and_closes_the_connection() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let mut stream = c
        .chat_stream(hello(), &fault("chunks=10;stall_after=2;stall_ms=2000"))
        .expect("stream");
    assert!(stream.next_chunk().expect("first").is_some());
    let handle = stream.cancel_handle();
    let closed_before = m.connections_closed();
    std::thread::spawn(move || handle.cancel()).join().unwrap();
    let e = stream.next_chunk().unwrap_err();
    assert_eq!(e.code, ErrorCode::Cancelled);
    // The mock notices the close when it writes again, after its stall.
    assert_mock_sees_close(&m, closed_before);
}

#[test]
fn dropping_a_stream_early_closes_the_connection() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let mut stream = c
        .chat_stream(hello(), &fault("chunks=10;stall_after=2;stall_ms=2000"))
        .expect("stream");
    assert!(stream.next_chunk().expect("first").is_some());
    let closed_before = m.connections_closed();
    drop(stream);
    assert_mock_sees_close(&m, closed_before);
}

#[test]
fn slow_first_byte_and_stalled_stream_time_out_naming_the_phase() {
    let m = mock();
    let c = client(
        &m,
        json!({ "model": "openai/gpt-4o-mini", "request_timeout_ms": 1000, "retry_max_attempts": 1,
                               "stream_idle_timeout_ms": 1000 }),
    );
    let e = c.chat(hello(), &fault("delay_ms=3000")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(e.message.contains("phase response"), "{}", e.message);
    let e = reassemble(&c, &fault("chunks=10;stall_after=2;stall_ms=3000")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(e.message.contains("phase stream_idle"), "{}", e.message);
    let e = c.chat_stream(hello(), &fault("delay_ms=3000")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(e.message.contains("phase response"), "{}", e.message);
}

#[test]
fn connection_refused_is_a_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let profile = json!({ "kind": "cloudflare", "base_url": format!("http://127.0.0.1:{port}/v1/a/g/openai/compat"),
                          "model": "openai/x", "retry_max_attempts": 2, "retry_initial_backoff_ms": 50 });
    let c = Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env()).unwrap();
    let e = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::Connection);
    assert_eq!(e.attempts.len(), 2, "connect errors are retried");
}

#[test]
fn a_40_mib_body_is_a_protocol_error() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = c.chat(hello(), &fault("huge_body_mib=40")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(
        e.message.contains("exceeds the limit of 33554432 bytes"),
        "{}",
        e.message
    );
}

#[test]
fn malformed_and_off_shape_bodies_are_protocol_errors() {
    let m = mock();
    let c = client(
        &m,
        json!({ "model": "openai/gpt-4o-mini", "retry_max_attempts": 1 }),
    );
    for spec in ["malformed_json", "invalid_utf8_json", "not_openai_shape"] {
        let e = c.chat(hello(), &fault(spec)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Protocol, "{spec}: {e}");
    }
    for spec in [
        "headers_no_body",
        "truncated_chunked",
        "reset_before_headers",
    ] {
        let e = c.chat(hello(), &fault(spec)).unwrap_err();
        assert!(
            matches!(e.code, ErrorCode::Connection | ErrorCode::Protocol),
            "{spec}: {e}"
        );
    }
}

#[test]
fn unresolved_placeholders_fail_before_any_io() {
    let m = mock();
    let profile = json!({ "kind": "cloudflare", "base_url": format!("{}/v1/<account_id>/gw/openai/compat", m.url()) });
    let c = Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env()).unwrap();
    let e = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::Config);
    assert!(
        e.message
            .starts_with("cloudflare_ai_gateway requires tenant-scoped base_url configuration"),
        "{}",
        e.message
    );
    assert_eq!(c.list_models().unwrap_err().code, ErrorCode::Config);
    assert!(c.chat_stream(hello(), &RequestOptions::default()).is_err());
    assert!(m.requests().is_empty(), "the mock saw no request at all");
}

#[test]
fn missing_credentials_fail_before_any_io() {
    let m = mock();
    let profile =
        json!({ "kind": "cloudflare", "base_url": m.base_url("a", "g"), "model": "openai/x" });
    let c = Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap();
    let e = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::MissingCredentials);
    assert!(m.requests().is_empty());
}

#[test]
fn gateway_options_arrive_as_exactly_the_expected_headers() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        gateway_token: Some("gw-token".to_string()),
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(
        &m,
        json!({ "model": "openai/gpt-4o-mini", "gateway": {
            "authorization": "gw-token", "cache_ttl": 120, "skip_cache": true, "metadata": { "team": "a", "n": 1 },
            "collect_log": false, "event_id": "e1", "max_attempts": 2, "retry_delay_ms": 500, "backoff": "linear",
            "request_timeout_ms": 9000, "byok_alias": "prod", "collect_log_payload": true } }),
    );
    let options =
        RequestOptions::from_value(&json!({ "gateway": { "cache_key": "k1", "event_id": "e2" } }))
            .unwrap();
    c.chat(hello(), &options)
        .expect("chat through an authenticated gateway");
    let req = &m.requests()[0];
    let mut got: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(n, _)| n.starts_with("cf-aig-"))
        .cloned()
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("cf-aig-authorization", "Bearer gw-token"),
        ("cf-aig-backoff", "linear"),
        ("cf-aig-byok-alias", "prod"),
        ("cf-aig-cache-key", "k1"),
        ("cf-aig-cache-ttl", "120"),
        ("cf-aig-collect-log", "false"),
        ("cf-aig-collect-log-payload", "true"),
        ("cf-aig-event-id", "e2"),
        ("cf-aig-max-attempts", "2"),
        ("cf-aig-metadata", "{\"n\":1,\"team\":\"a\"}"),
        ("cf-aig-request-timeout", "9000"),
        ("cf-aig-retry-delay", "500"),
        ("cf-aig-skip-cache", "true"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    want.sort();
    assert_eq!(got, want);

    let unauthenticated = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let e = unauthenticated
        .chat(hello(), &RequestOptions::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth);
    for bad in [
        json!({ "metadata": { "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6 } }),
        json!({ "cache_ttl": 10 }),
        json!({ "max_attempts": 9 }),
    ] {
        let e = RequestOptions::from_value(&json!({ "gateway": bad })).unwrap_err();
        assert_eq!(e.code, ErrorCode::Config, "{bad}");
    }
}

#[test]
fn list_models_parses_the_catalog() {
    let m = mock();
    let c = client(&m, json!({}));
    let models = c.list_models().expect("models");
    let ids: Vec<&str> = models.iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "openai/gpt-4o-mini",
            "openai/gpt-4o",
            "workers-ai/@cf/meta/llama-3.1-8b-instruct"
        ]
    );
    assert_eq!(models[0]["owned_by"], "openai");
}

#[test]
fn sixteen_threads_share_one_client() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let body = json!({ "messages": [{ "role": "user", "content": format!("t{t} i{i}") }] });
                    let r = c.chat(body, &RequestOptions::default()).expect("chat");
                    assert_eq!(r["choices"][0]["message"]["content"], format!("echo: t{t} i{i}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(m.count_path_suffix("/chat/completions"), 3200);
    assert!(
        m.connections_opened() <= 64,
        "keep-alive: {} connections for 3200 requests",
        m.connections_opened()
    );
}

#[test]
fn doctor_reports_each_check() {
    let m = mock();
    let ok = client(&m, json!({ "model": "openai/gpt-4o-mini" })).doctor();
    assert_eq!(ok["status"], "pass", "{ok}");
    let broken = json!({ "x-mock-fault": "models:status=500" });
    let pinned = client(
        &m,
        json!({ "model": "openai/gpt-4o-mini", "headers": broken, "retry_max_attempts": 1 }),
    )
    .doctor();
    assert_eq!(pinned["checks"][3]["status"], "warn");
    assert!(pinned["checks"][3]["detail"].as_str().unwrap().starts_with(
        "chat may still work because model `openai/gpt-4o-mini` is explicitly configured"
    ));
    let preferred = client(&m, json!({ "preferred_models": ["openai/gpt-4o"], "headers": broken, "retry_max_attempts": 1 })).doctor();
    assert!(preferred["checks"][3]["detail"]
        .as_str()
        .unwrap()
        .starts_with("runtime will try configured preferred model fallback(s): openai/gpt-4o"));
    let auto = client(&m, json!({ "headers": broken, "retry_max_attempts": 1 })).doctor();
    assert_eq!(auto["status"], "fail");
    assert!(auto["checks"][3]["detail"].as_str().unwrap().starts_with(
        "current config still uses model = auto; set provider.model explicitly or configure preferred_models before retrying"
    ));
    let no_creds = Client::with_env(
        Profile::from_value(
            &json!({ "kind": "cloudflare", "base_url": m.base_url("a", "g") }),
            "provider",
        )
        .unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap()
    .doctor();
    assert_eq!(no_creds["checks"][1]["status"], "fail");
    assert_eq!(no_creds["checks"][3]["status"], "warn");
    assert!(no_creds["checks"][3]["detail"]
        .as_str()
        .unwrap()
        .contains("skipped"));
    no_key(&ok.to_string());
}

#[test]
fn chat_text_is_chat_as_text() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let tree = c.chat(hello(), &RequestOptions::default()).expect("chat");
    let text: Value = serde_json::from_str(
        &c.chat_text(hello(), &RequestOptions::default())
            .expect("chat_text"),
    )
    .expect("JSON");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&tree), keys(&text));
    assert_eq!(tree["choices"], text["choices"]);
    assert_eq!(keys(&tree["aigw"]), keys(&text["aigw"]));
    assert_eq!(text["aigw"]["model"], "openai/gpt-4o-mini");
    for spec in ["not_openai_shape", "malformed_json", "invalid_utf8_json"] {
        let a = c.chat(hello(), &fault(spec)).unwrap_err();
        let b = c.chat_text(hello(), &fault(spec)).unwrap_err();
        assert_eq!(
            (a.code, a.attempts.len()),
            (b.code, b.attempts.len()),
            "{spec}"
        );
    }
}

#[test]
fn cancel_interrupts_a_read_blocked_on_a_stalled_stream() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let mut stream = c
        .chat_stream(hello(), &fault("chunks=10;stall_after=2;stall_ms=3000"))
        .expect("stream");
    assert!(stream.next_chunk().expect("first").is_some());
    let handle = stream.cancel_handle();
    let closed_before = m.connections_closed();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        handle.cancel();
    });
    let started = Instant::now();
    let e = loop {
        match stream.next_chunk() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a stalled stream ended cleanly"),
            Err(e) => break e,
        }
    };
    canceller.join().unwrap();
    assert_eq!(e.code, ErrorCode::Cancelled, "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "the blocked read waited {:?}",
        started.elapsed()
    );
    // The mock notices the close when it writes again, after its 3 s stall.
    assert_mock_sees_close(&m, closed_before);
}

#[test]
fn a_pooled_connection_of_a_finished_stream_serves_plain_requests() {
    let m = mock();
    let c = client(&m, json!({ "model": "openai/gpt-4o-mini" }));
    let mut stream = c
        .chat_stream(hello(), &RequestOptions::default())
        .expect("stream");
    while stream.next_chunk().expect("chunk").is_some() {}
    let handle = stream.cancel_handle();
    drop(stream);
    handle.cancel(); // late: the connection went back to the pool and must not be affected
    for _ in 0..3 {
        c.chat(hello(), &fault("delay_ms=150"))
            .expect("a later request on the pooled connection");
    }
}

#[test]
fn a_key_out_of_quota_falls_forward_to_the_next_key() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string(), format!("{KEY}-2")],
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(
        &m,
        json!({ "model": "openai/gpt-4o-mini", "api_key": format!("{KEY}, {KEY}-2") }),
    );
    let r = c
        .chat(
            hello(),
            &fault("status=429;error_code=insufficient_quota;tag=quota;times=1"),
        )
        .expect("the second key answers");
    let attempts = r["aigw"]["attempts"].as_array().unwrap();
    assert_eq!(
        (
            attempts[0]["status"].clone(),
            attempts[0]["key_index"].clone()
        ),
        (json!(429), json!(0))
    );
    assert_eq!(
        (
            attempts[1]["status"].clone(),
            attempts[1]["key_index"].clone()
        ),
        (json!(200), json!(1))
    );
}

#[test]
fn a_kind_whose_model_probe_needs_no_key_lists_models_without_one() {
    let m = mock();
    let profile = json!({ "kind": "cerebras", "base_url": m.url(), "models_endpoint": format!("{}/models", m.base_url("a", "g")) });
    let c = Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap();
    assert_eq!(
        c.credentials().as_ref().unwrap_err().code,
        ErrorCode::MissingCredentials
    );
    // The mock answers 401 to a request without a bearer: what matters is that it was sent, bare.
    let e = c.list_models().unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth, "{e}");
    let sent = &m.requests()[0];
    assert!(sent.path.ends_with("/models"));
    assert_eq!(sent.header("authorization"), None);
    let chat = c.chat(hello(), &RequestOptions::default()).unwrap_err();
    assert_eq!(
        chat.code,
        ErrorCode::MissingCredentials,
        "chat still needs the key"
    );
}
