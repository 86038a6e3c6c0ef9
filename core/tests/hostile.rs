//! Hostile-but-realistic upstreams: servers that echo the credentials they were sent, answer
//! with broken HTTP, nest JSON without end or redirect; and callers that give up on a call.
//! Every case ends typed, bounded, and without a secret in any text the caller can see.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aigw_core::{CancelToken, Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::{json, Value};

const KEY_A: &str = "sk-hostile-key-a-0123456789";
const KEY_B: &str = "sk-hostile-key-b-9876543210";
const TOKEN: &str = "cfut-hostile-gateway-token";
const PER_REQUEST: &str = "per-request-secret-4242";

fn mock(gateway_token: Option<&str>) -> MockGateway {
    MockGateway::start(MockConfig {
        gateway_token: gateway_token.map(str::to_string),
        ..MockConfig::default()
    })
    .unwrap()
}

fn client_with(m: &MockGateway, extra: Value, keys: &str) -> Client {
    let mut profile = json!({ "kind": "cloudflare", "base_url": m.base_url("acc", "gw"),
        "model": "openai/gpt-4o-mini", "retry_max_attempts": 3,
        "retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 100,
        "request_timeout_ms": 5000, "stream_idle_timeout_ms": 5000 });
    if let (Value::Object(p), Value::Object(e)) = (&mut profile, extra) {
        p.extend(e);
    }
    let env = Env::from_map(HashMap::from([(
        "CLOUDFLARE_API_KEY".to_string(),
        keys.to_string(),
    )]));
    Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env).unwrap()
}

fn faults(spec: &str) -> RequestOptions {
    RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } })).unwrap()
}

fn ask() -> Value {
    json!({ "messages": [{ "role": "user", "content": "hi" }] })
}

/// Every text of the error as a caller of any language can see it.
fn texts(e: &aigw_core::Error) -> String {
    format!("{e}\n{e:?}\n{}", e.to_json())
}

fn assert_scrubbed(label: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{label}: `{secret}` in {text}");
    }
    assert!(
        text.contains("[redacted]"),
        "{label}: nothing was echoed? {text}"
    );
}

#[test]
fn echoed_keys_and_gateway_tokens_never_reach_the_caller() {
    let m = mock(Some(TOKEN));
    let c = client_with(
        &m,
        json!({ "gateway": { "authorization": TOKEN } }),
        &format!("{KEY_A},{KEY_B}"),
    );
    let all = [KEY_A, KEY_B, TOKEN];

    // A 401 quoting the key: the pool falls forward, so both keys are echoed once each.
    let e = c
        .chat(ask(), &faults("status=401;echo_secrets"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth);
    assert_scrubbed("401 echo", &texts(&e), &all);

    // A text body whose first 200 bytes end inside the key: scrubbed before it is cut.
    let e = c.chat(ask(), &faults("status=400;echo_plain")).unwrap_err();
    assert!(!texts(&e).contains("sk-hostile"), "{}", texts(&e));

    // chat_text (the C and Node path) and the catalog (list_models, doctor).
    let e = c
        .chat_text(ask(), &faults("status=500;echo_secrets"))
        .unwrap_err();
    assert_scrubbed("chat_text", &texts(&e), &all);

    // Error frames in a stream, written one byte per read: the secret arrives split.
    for spec in [
        "sse_error_frame;split_bytes;echo_secrets",
        "sse_event_error;echo_secrets",
    ] {
        let mut s = c.chat_stream(ask(), &faults(spec)).unwrap();
        let e = loop {
            match s.next_chunk() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("{spec}: the stream ended cleanly"),
                Err(e) => break e,
            }
        };
        assert_scrubbed(spec, &texts(&e), &all);
    }

    // A secret given for one call only (its own Authorization) is scrubbed too.
    let options = RequestOptions::from_value(&json!({ "headers": {
        "x-mock-fault": "status=403;echo_secrets",
        "Authorization": format!("Bearer {PER_REQUEST}") } }))
    .unwrap();
    let e = c.chat(ask(), &options).unwrap_err();
    assert_scrubbed("per-request header", &texts(&e), &[PER_REQUEST, TOKEN]);
    let mut s = c
        .chat_stream(
            ask(),
            &RequestOptions::from_value(&json!({ "headers": {
                "x-mock-fault": "sse_error_frame;echo_secrets",
                "Authorization": format!("Bearer {PER_REQUEST}") } }))
            .unwrap(),
        )
        .unwrap();
    let e = std::iter::from_fn(|| Some(s.next_chunk()))
        .find_map(|r| r.err())
        .unwrap();
    assert_scrubbed("per-request stream", &texts(&e), &[PER_REQUEST]);
}

#[test]
fn doctor_and_the_catalog_scrub_echoes() {
    let m = mock(None);
    let c = client_with(
        &m,
        json!({ "headers": { "x-mock-fault": "models:status=403;models:echo_secrets" } }),
        KEY_A,
    );
    let e = c.list_models().unwrap_err();
    assert_scrubbed("list_models", &texts(&e), &[KEY_A]);
    let report = c.doctor().to_string();
    assert!(!report.contains(KEY_A), "{report}");
    assert!(report.contains("[redacted]"), "{report}");
}

#[test]
fn short_placeholder_keys_are_accepted_and_not_scrubbed() {
    let m = mock(None);
    let c = client_with(&m, json!({}), "ollama");
    let e = c
        .chat(ask(), &faults("status=401;echo_secrets"))
        .unwrap_err();
    assert!(e.message.contains("Bearer ollama"), "{}", e.message);
    assert!(c.chat(ask(), &RequestOptions::default()).is_ok());
}

#[test]
fn a_cancelled_chat_ends_within_the_poll_interval_and_drops_its_connection() {
    let m = mock(None);
    let c = client_with(&m, json!({}), KEY_A);
    let token = CancelToken::new();
    let mut options = faults("delay_ms=5000");
    options.cancel = Some(token.clone());
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
        })
    };
    let started = Instant::now();
    let e = c.chat(ask(), &options).unwrap_err();
    let took = started.elapsed();
    canceller.join().unwrap();
    assert_eq!(e.code, ErrorCode::Cancelled, "{e}");
    assert!(took < Duration::from_millis(700), "took {took:?}");
    assert_eq!(e.attempts.len(), 1, "a cancelled call is not retried");

    // A poll function (how Python notices Ctrl-C) cancels the same way.
    let started = Instant::now();
    let poll_from = started + Duration::from_millis(300);
    let mut options = faults("delay_ms=5000");
    options.cancel = Some(CancelToken::with_poll(move || Instant::now() > poll_from));
    let e = c.chat(ask(), &options).unwrap_err();
    assert_eq!(e.code, ErrorCode::Cancelled, "{e}");
    assert!(started.elapsed() < Duration::from_millis(800));

    // Also while waiting between retries, and before the first attempt.
    let token = CancelToken::new();
    token.cancel();
    let options = RequestOptions {
        cancel: Some(token),
        ..RequestOptions::default()
    };
    let before = m.requests().len();
    assert_eq!(
        c.chat(ask(), &options).unwrap_err().code,
        ErrorCode::Cancelled
    );
    assert_eq!(m.requests().len(), before, "nothing was sent");
}

#[test]
fn broken_http_is_protocol_and_not_retried() {
    let m = mock(None);
    let c = client_with(&m, json!({}), KEY_A);
    let e = c.chat(ask(), &faults("malformed_http")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol, "{e}");
    assert_eq!(e.attempts.len(), 1, "{:?}", e.attempts);
}

#[test]
fn deeply_nested_answers_get_one_rule_on_every_path() {
    let m = mock(None);
    let c = client_with(&m, json!({}), KEY_A);
    for depth in [100_000, 200] {
        let spec = format!("deep_json={depth}");
        let tree = c.chat(ask(), &faults(&spec)).unwrap_err();
        let text = c.chat_text(ask(), &faults(&spec)).unwrap_err();
        assert_eq!(tree.code, ErrorCode::Protocol, "{tree}");
        assert_eq!(text.code, ErrorCode::Protocol, "{text}");
    }
    let ok = c.chat_text(ask(), &faults("deep_json=50")).unwrap();
    assert!(ok.contains("\"aigw\""));
    assert!(c.chat(ask(), &faults("deep_json=50")).is_ok());
}

#[test]
fn a_redirect_names_its_location() {
    let m = mock(None);
    let c = client_with(&m, json!({}), KEY_A);
    let e = c.chat(ask(), &faults("redirect")).unwrap_err();
    assert_eq!(e.http_status, Some(307));
    assert!(
        e.message
            .contains("Location: https://elsewhere.example/v1/chat/completions"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("does not follow redirects"),
        "{}",
        e.message
    );
}

#[test]
fn bad_key_bytes_are_config_errors_that_name_the_source() {
    let m = mock(None);
    for key in [
        "sk-abc\u{1}defghij",
        "sk-abcdefgh\u{7f}",
        "sk-\u{e9}abcdefgh",
    ] {
        let profile = json!({ "kind": "cloudflare", "base_url": m.base_url("a", "g") });
        let env = Env::from_map(HashMap::from([(
            "CLOUDFLARE_API_KEY".to_string(),
            key.to_string(),
        )]));
        let e =
            Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env).unwrap_err();
        assert_eq!(e.code, ErrorCode::Config, "{e}");
        assert!(
            e.message.contains("env:CLOUDFLARE_API_KEY"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("sk-"), "{}", e.message);
    }
    let profile = json!({ "kind": "cloudflare", "base_url": m.base_url("a", "g"),
        "api_key": "k-12345678", "gateway": { "authorization": "tok\u{1}en-abcdef" } });
    let e = Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Config, "{e}");
    assert!(e.message.contains("gateway.authorization"), "{}", e.message);
    assert!(!e.message.contains("abcdef"), "{}", e.message);
}

/// Serves one connection: reads the request head, answers with `extra` bytes of headers.
fn answer_with_a_head_of(extra: usize) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let Ok((conn, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut length = 0usize;
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            line.clear();
        }
        let mut body = vec![0u8; length];
        let _ = std::io::Read::read_exact(&mut reader, &mut body);
        let answer = r#"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;
        let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n");
        let filler = "x".repeat(1000);
        for i in 0..extra / 1010 {
            head.push_str(&format!("x-filler-{i:04}: {filler}\r\n"));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            answer.len()
        ));
        let mut conn = conn;
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(answer.as_bytes());
    });
    (url, server)
}

#[test]
fn a_response_head_over_16_kib_is_a_protocol_error_that_says_so() {
    for (extra, ok) in [(12 * 1024, true), (24 * 1024, false)] {
        let (url, server) = answer_with_a_head_of(extra);
        let profile = json!({ "kind": "openai", "base_url": url, "model": "m",
            "retry_max_attempts": 1, "request_timeout_ms": 5000 });
        let env = Env::from_map(HashMap::from([(
            "OPENAI_API_KEY".to_string(),
            KEY_A.to_string(),
        )]));
        let c = Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env).unwrap();
        let got = c.chat(ask(), &RequestOptions::default());
        server.join().unwrap();
        match (got, ok) {
            (Ok(answer), true) => assert_eq!(answer["choices"][0]["message"]["content"], "ok"),
            (Err(e), false) => {
                assert_eq!(e.code, ErrorCode::Protocol, "{e}");
                assert!(e.message.contains("response head"), "{e}");
                assert!(e.message.contains("16384"), "{e}");
            }
            (got, _) => panic!("a head of {extra} bytes: {got:?}"),
        }
    }
}
