//! One cancellation mechanism for every call: a `CancelToken` in `RequestOptions` ends chat,
//! streams and catalog calls with `CANCELLED`, closes the connection and starts no retry; the
//! same for the streams of the translated kinds (Anthropic Messages, Bedrock event-stream).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aigw_core::{CancelToken, Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::json;

fn client(m: &MockGateway) -> Client {
    let profile = json!({ "kind": "cloudflare", "base_url": m.base_url("acc", "gw"),
        "api_key": "cancel-test-key", "retry_max_attempts": 3,
        "retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 100 });
    Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap()
}

fn options(token: &CancelToken, spec: &str) -> RequestOptions {
    let mut o =
        RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } })).unwrap();
    o.cancel = Some(token.clone());
    o
}

#[test]
fn a_cancelled_catalog_call_sends_nothing_and_a_cancel_in_flight_closes_it() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m);
    let token = CancelToken::new();
    token.cancel();
    let e = c.list_models_with(&options(&token, "")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Cancelled);
    assert_eq!(m.requests().len(), 0, "no I/O for a cancelled token");

    let token = CancelToken::new();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
        })
    };
    let started = Instant::now();
    let e = c
        .list_models_with(&options(&token, "models:delay_ms=3000"))
        .unwrap_err();
    canceller.join().unwrap();
    assert_eq!(e.code, ErrorCode::Cancelled, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not the 3 s delay"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(m.requests().len(), 1, "no retry after the cancel");
    assert!(
        m.wait_closed_beyond(0, Duration::from_secs(5)) >= 1,
        "the connection was closed"
    );
}

#[test]
fn a_thousand_streams_hold_their_connections_at_once() {
    // Each stream sends one chunk and then stalls: once every thread has its first chunk, all
    // of them hold a connection at the same moment. A count, not a timing.
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m);
    let n = 1000;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n + 1));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (c, barrier) = (c.clone(), barrier.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let ask = json!({ "model": "openai/gpt-4o-mini",
                        "messages": [{ "role": "user", "content": format!("s{i}") }] });
                    let held = RequestOptions::from_value(&json!({ "headers": {
                        "x-mock-fault": "chunks=4;stall_after=1;stall_ms=20000" } }))
                    .unwrap();
                    let mut stream = c.chat_stream(ask, &held).unwrap();
                    let first = stream.next_chunk().unwrap().is_some();
                    barrier.wait();
                    // Wait for the count to be read, then drop the stream (closing it).
                    barrier.wait();
                    first
                })
                .unwrap()
        })
        .collect();
    barrier.wait();
    let peak = m.connections_peak();
    barrier.wait();
    let firsts = threads
        .into_iter()
        .filter_map(|t| t.join().ok())
        .filter(|first| *first)
        .count();
    assert_eq!(firsts, n);
    assert!(peak >= n, "peak {peak} < {n}");
}

/// Eight one-character deltas of "echo: hi"; the mock stalls after its fourth event (Anthropic:
/// message_start, content_block_start, ping, "e"; Bedrock: messageStart, "e", "c", "h").
const STALLED: &str = "chunks=8;stall_after=4;stall_ms=3000";

/// A stream of a translated kind stalled mid-way, cancelled through its `RequestOptions` token
/// from another thread while a read waits: `CANCELLED`, the rest of the text never arrives, the
/// mock sees the connection close, and it received one request (no retry after the cancel,
/// although the profile allows three attempts).
fn cancel_a_stalled_translated_stream(profile: serde_json::Value) {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let mut profile = profile;
    for (field, value) in [
        ("base_url", json!(m.url())),
        ("api_key", json!("cancel-test-key")),
        ("retry_max_attempts", json!(3)),
        ("retry_initial_backoff_ms", json!(50)),
    ] {
        profile[field] = value;
    }
    if profile["kind"] == "bedrock" {
        // Without a region the default catalog template stays unresolved.
        profile["models_endpoint"] = json!(format!("{}/foundation-models", m.url()));
    }
    let c = Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap();
    let token = CancelToken::new();
    let ask = json!({ "messages": [{ "role": "user", "content": "hi" }] });
    let mut stream = c.chat_stream(ask, &options(&token, STALLED)).unwrap();
    let delta = |chunk: &aigw_core::StreamChunk| {
        chunk.value["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let mut text = String::new();
    while text.is_empty() {
        let chunk = stream.next_chunk().unwrap().expect("text before the stall");
        text.push_str(&delta(&chunk));
    }
    let closed_before = m.connections_closed();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
        })
    };
    let e = loop {
        match stream.next_chunk() {
            Ok(Some(chunk)) => text.push_str(&delta(&chunk)),
            Ok(None) => panic!("a stalled stream ended cleanly with {text:?}"),
            Err(e) => break e,
        }
    };
    canceller.join().unwrap();
    assert_eq!(e.code, ErrorCode::Cancelled, "{e}");
    assert!(
        text.len() < "echo: hi".len() && "echo: hi".starts_with(&text),
        "only the text before the stall arrived: {text:?}"
    );
    // The mock notices the close when it writes again, after its stall.
    assert!(
        m.wait_closed_beyond(closed_before, Duration::from_secs(10)) > closed_before,
        "the mock saw the connection close"
    );
    assert_eq!(m.requests().len(), 1, "no retry after the cancel");
}

#[test]
fn a_cancelled_anthropic_stream_ends_mid_way_and_is_not_retried() {
    cancel_a_stalled_translated_stream(
        json!({ "kind": "anthropic", "model": "claude-sonnet-4-5" }),
    );
}

#[test]
fn a_cancelled_bedrock_stream_ends_mid_way_and_is_not_retried() {
    cancel_a_stalled_translated_stream(json!({ "kind": "bedrock",
        "model": "anthropic.claude-3-haiku-20240307-v1:0" }));
}
