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

/// Reads a stream as the bindings do: one blocking `next_chunk`, then every chunk that is
/// ready without a read; returns the texts (and the error code that ended it, if any) and how
/// many chunks came from `next_chunk_ready`.
fn read_in_batches(c: &Client, spec: &str) -> (Vec<String>, Option<ErrorCode>, usize) {
    let options =
        RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } })).unwrap();
    let req = json!({ "messages": [{ "role": "user", "content": "fault" }] });
    let mut s = match c.chat_stream(req, &options) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Some(e.code), 0),
    };
    let (mut texts, mut from_ready) = (Vec::new(), 0);
    loop {
        // What was received already first; a read only when nothing is left of it.
        let (next, ready) = match s.next_chunk_ready() {
            Some(next) => (next, true),
            None => (s.next_chunk(), false),
        };
        match next {
            Ok(Some(chunk)) => {
                texts.push(chunk.text);
                from_ready += usize::from(ready);
            }
            Ok(None) => return (texts, None, from_ready),
            Err(e) => return (texts, Some(e.code), from_ready),
        }
    }
}

#[test]
fn chunks_ready_without_a_read_are_the_same_chunks_in_the_same_order() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(&m.base_url("0123456789abcdef0123456789abcdef", "faults"));
    for spec in [
        "chunks=40",
        "chunks=40;split_bytes",
        "chunks=12;truncate_after=5",
        "chunks=6;sse_error_frame",
        "chunks=30;comments;crlf",
    ] {
        let (plain, plain_end) = {
            let options =
                RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } }))
                    .unwrap();
            let req = json!({ "messages": [{ "role": "user", "content": "fault" }] });
            let mut s = c.chat_stream(req, &options).unwrap();
            let mut texts = Vec::new();
            let end = loop {
                match s.next_chunk() {
                    Ok(Some(chunk)) => texts.push(chunk.text),
                    Ok(None) => break None,
                    Err(e) => break Some(e.code),
                }
            };
            (texts, end)
        };
        let (batched, batched_end, _) = read_in_batches(&c, spec);
        // Equal but for the per-response id and the second it was created in.
        let unnamed = |texts: &[String]| -> Vec<String> {
            let id = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap()["id"].clone();
            let created = |t: &str| {
                let v = serde_json::from_str::<serde_json::Value>(t).unwrap();
                format!("\"created\":{}", v["created"])
            };
            texts
                .iter()
                .map(|t| {
                    t.replace(id(t).as_str().unwrap_or("-"), "ID")
                        .replace(&created(t), "\"created\":T")
                })
                .collect()
        };
        assert_eq!(unnamed(&batched), unnamed(&plain), "{spec}");
        assert_eq!(batched_end, plain_end, "{spec}");
        assert!(!plain.is_empty(), "{spec}");
    }
    // 40 small chunks written at once arrive in a few reads: most come without a read.
    let (texts, end, from_ready) = read_in_batches(&c, "chunks=40");
    assert_eq!(
        (texts.len(), end),
        (41, None),
        "40 deltas and the usage chunk"
    );
    assert!(from_ready > 0, "no chunk was ready after a read");
}

#[test]
fn a_stalled_stream_has_nothing_ready() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(&m.base_url("0123456789abcdef0123456789abcdef", "faults"));
    let options = RequestOptions::from_value(
        &json!({ "headers": { "x-mock-fault": "chunks=5;stall_after=1;stall_ms=900" } }),
    )
    .unwrap();
    let req = json!({ "messages": [{ "role": "user", "content": "fault" }] });
    let mut s = c.chat_stream(req, &options).unwrap();
    assert!(s.next_chunk().unwrap().is_some());
    assert!(
        s.next_chunk_ready().is_none(),
        "the mock is stalling: nothing can be ready"
    );
    s.close();
    assert!(
        matches!(s.next_chunk_ready(), Some(Ok(None))),
        "a closed stream is at its end"
    );
}
