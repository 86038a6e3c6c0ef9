//! The network-fault suite, one row per network fault: each must end as the right typed error
//! or the right full result, within the configured deadlines — never a hang, a panic or a
//! truncated success. Deadlines here are short (1 s) and every request is bounded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::json;

const KEY: &str = "fault-key";

fn client(base_url: &str) -> Client {
    let profile = json!({ "kind": "cloudflare", "base_url": base_url, "model": "openai/gpt-4o-mini",
        "request_timeout_ms": 1000, "stream_idle_timeout_ms": 1000, "connect_timeout_ms": 1000,
        "retry_max_attempts": 1 });
    let env = Env::from_map(HashMap::from([(
        "CLOUDFLARE_API_KEY".to_string(),
        KEY.to_string(),
    )]));
    Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env).unwrap()
}

/// Runs one request (streamed or not) and returns the full text or the error code.
fn outcome(c: &Client, spec: &str, stream: bool) -> Result<String, ErrorCode> {
    let options =
        RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } })).unwrap();
    let req = json!({ "messages": [{ "role": "user", "content": "fault" }] });
    if !stream {
        return c
            .chat(req, &options)
            .map(|r| {
                r["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .map_err(|e| e.code);
    }
    let mut s = c.chat_stream(req, &options).map_err(|e| e.code)?;
    let mut text = String::new();
    while let Some(chunk) = s.next_chunk().map_err(|e| e.code)? {
        let choice = &chunk.value["choices"][0];
        text.push_str(
            choice["delta"]["content"]
                .as_str()
                .or(choice["message"]["content"].as_str())
                .unwrap_or(""),
        );
    }
    Ok(text)
}

#[test]
fn every_fault_ends_typed_and_bounded() {
    use ErrorCode::*;
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(&m.base_url("0123456789abcdef0123456789abcdef", "faults"));
    let cases: &[(&str, bool, &[ErrorCode])] = &[
        ("reset_before_headers", false, &[Connection]),
        ("reset_before_headers", true, &[Connection]),
        ("headers_no_body", false, &[Connection, Protocol]),
        ("truncated_chunked", false, &[Connection, Protocol]),
        ("reset_after=3", true, &[Connection, Protocol]),
        ("truncate_after=3", true, &[Protocol]),
        ("delay_ms=2500", false, &[Timeout]),
        ("delay_ms=2500", true, &[Timeout]),
        ("stall_after=2;stall_ms=2500", true, &[Timeout]),
        ("invalid_utf8_json", false, &[Protocol]),
        ("invalid_utf8_sse", true, &[Protocol]),
        ("malformed_json", false, &[Protocol]),
        ("malformed_sse", true, &[Protocol]),
        ("not_openai_shape", false, &[Protocol]),
        ("huge_body_mib=40", false, &[Protocol]),
        ("huge_body_mib=40;json_for_stream", true, &[Protocol]),
    ];
    for (spec, stream, codes) in cases {
        let started = Instant::now();
        let got = outcome(&c, spec, *stream);
        let took = started.elapsed();
        match got {
            Err(code) => assert!(
                codes.contains(&code),
                "{spec} (stream {stream}): got {code}, want one of {codes:?}"
            ),
            Result::Ok(text) => panic!(
                "{spec} (stream {stream}): a fault ended as success with {} chars",
                text.len()
            ),
        }
        assert!(
            took < Duration::from_secs(5),
            "{spec} (stream {stream}) took {took:?}, beyond its 1 s deadlines"
        );
    }
}

#[test]
fn a_thousand_one_byte_frames_reassemble_exactly() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(&m.base_url("a", "g"));
    let expected: String = "héllo wörld 🦀 中文 ".chars().cycle().take(1000).collect();
    let text = outcome(&c, "chunks=1000;content_len=1000;split_bytes", true).expect("full stream");
    assert_eq!(text, expected);
}

#[test]
fn connection_refused_is_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(&format!("http://127.0.0.1:{port}/v1/a/g/openai/compat"));
    assert_eq!(outcome(&c, "", false), Err(ErrorCode::Connection));
    assert_eq!(outcome(&c, "", true), Err(ErrorCode::Connection));
}

#[test]
fn a_silent_server_times_out_in_the_response_phase() {
    // Accepts connections and never writes a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(2).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(10));
        drop(held);
    });
    let c = client(&format!("http://127.0.0.1:{port}/v1/a/g/openai/compat"));
    let started = Instant::now();
    assert_eq!(outcome(&c, "", false), Err(ErrorCode::Timeout));
    assert_eq!(outcome(&c, "", true), Err(ErrorCode::Timeout));
    assert!(started.elapsed() < Duration::from_secs(6));
}
