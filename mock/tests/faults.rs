//! Scripted faults as they appear on the wire: error statuses and bodies, tag/times gating,
//! broken and oddly framed streams, early closes, huge bodies.

mod common;

use std::time::{Duration, Instant};

use aigw_mock::{MockConfig, MockGateway};
use common::{auth, chat, chat_body, Client, MODELS};
use serde_json::json;

fn start() -> MockGateway {
    MockGateway::start(MockConfig {
        lifetime: Duration::from_secs(60),
        ..MockConfig::default()
    })
    .unwrap()
}

fn json_chat() -> Vec<u8> {
    chat_body("openai/gpt-4o-mini", "hello", false)
}

fn stream_chat() -> Vec<u8> {
    chat_body("openai/gpt-4o-mini", "hello", true)
}

#[test]
fn tagged_fault_applies_times_then_stops() {
    let mock = start();
    let fault = Some("status=503;retry_after=2;tag=t1;times=2");
    for _ in 0..2 {
        let failed = chat(mock.port(), &json_chat(), fault);
        assert_eq!(failed.status, 503);
        assert_eq!(failed.header("retry-after"), Some("2"));
        assert_eq!(
            failed.json(),
            json!({"error":{"message":"mock status 503","type":"mock_error","code":"mock_503"}})
        );
    }
    let healthy = chat(mock.port(), &json_chat(), fault);
    assert_eq!(healthy.status, 200);
    assert_eq!(healthy.header("retry-after"), None);
    // Another tag has its own counter; reset() starts counting again.
    assert_eq!(
        chat(mock.port(), &json_chat(), Some("status=500;tag=t2;times=1")).status,
        500
    );
    mock.reset();
    assert_eq!(chat(mock.port(), &json_chat(), fault).status, 503);
}

#[test]
fn error_shapes_and_retry_headers() {
    let mock = start();
    let quota = chat(
        mock.port(),
        &json_chat(),
        Some("status=429;error_code=insufficient_quota;retry_after_ms=1500"),
    );
    assert_eq!(quota.status, 429);
    assert_eq!(quota.json()["error"]["code"], "insufficient_quota");
    assert_eq!(quota.header("retry-after-ms"), Some("1500"));

    let dated = chat(
        mock.port(),
        &json_chat(),
        Some("status=429;retry_after_date=30"),
    );
    let date = dated.header("retry-after").unwrap();
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");

    let enveloped = chat(mock.port(), &json_chat(), Some("status=502;envelope=2005"));
    assert_eq!(enveloped.status, 502);
    assert_eq!(enveloped.json()["success"], false);
    assert_eq!(enveloped.json()["error"][0]["code"], 2005);

    let v4 = chat(mock.port(), &json_chat(), Some("status=403;v4_errors"));
    assert_eq!(v4.status, 403);
    assert_eq!(v4.json()["errors"][0]["code"], 10000);
    assert_eq!(v4.json()["result"], serde_json::Value::Null);
}

#[test]
fn model_spec_selects_faults_and_answers_as_a_real_model() {
    let mock = start();
    let body = chat_body("mock/content=a%3Bb;chunks=2", "ignored", true);
    let response = chat(mock.port(), &body, None);
    assert_eq!(response.streamed_content(), "a;b");
    assert_eq!(response.sse_data().len(), 3);
    assert!(response.sse_data()[0].contains("\"model\":\"openai/gpt-4o-mini\""));
}

#[test]
fn models_prefix_targets_the_catalog_only() {
    let mock = start();
    let auth = auth();
    let headers = [
        ("authorization", auth.as_str()),
        (
            "x-mock-fault",
            "models:status=500;models:tag=m;models:times=1",
        ),
    ];
    let mut client = Client::connect(mock.port());
    assert_eq!(client.request("GET", MODELS, &headers, b"").status, 500);
    assert_eq!(client.request("GET", MODELS, &headers, b"").status, 200);
    let chat_headers = [
        ("authorization", auth.as_str()),
        ("x-mock-fault", "models:status=500"),
    ];
    let chat = client.request("POST", common::CHAT, &chat_headers, &json_chat());
    assert_eq!(chat.status, 200);

    let invalid = [
        ("authorization", auth.as_str()),
        ("x-mock-fault", "models:invalid_utf8_json"),
    ];
    let listed = client.request("GET", MODELS, &invalid, b"");
    assert!(listed.body.windows(2).any(|w| w == [0xff, 0xfe]));
    assert!(!listed.text().contains("PLACEHOLDER"));
}

#[test]
fn delays_and_stalls_slow_the_answer() {
    let mock = start();
    let started = Instant::now();
    let slow = chat(mock.port(), &json_chat(), Some("delay_ms=200"));
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));

    let started = Instant::now();
    let stalled = chat(
        mock.port(),
        &stream_chat(),
        Some("stall_after=2;stall_ms=200"),
    );
    assert!(stalled.complete);
    assert_eq!(stalled.streamed_content(), "echo: hello");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn broken_streams_end_the_way_they_are_scripted() {
    let mock = start();
    let reset = chat(mock.port(), &stream_chat(), Some("reset_after=3"));
    assert!(!reset.complete);
    assert_eq!(reset.sse_data().len(), 3);

    let truncated = chat(mock.port(), &stream_chat(), Some("truncate_after=2"));
    assert!(truncated.complete, "the chunked body ends cleanly");
    let data = truncated.sse_data();
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|d| d.contains("\"finish_reason\":null")));

    let frame = chat(mock.port(), &stream_chat(), Some("sse_error_frame"));
    let data = frame.sse_data();
    assert_eq!(data.len(), 2);
    assert!(data[1].contains("\"code\":\"overloaded\""));

    let event = chat(mock.port(), &stream_chat(), Some("sse_event_error"));
    assert!(event
        .text()
        .contains("event: error\ndata: {\"message\":\"boom\"}\n\n"));
    assert!(!event.text().contains("[DONE]"));

    let malformed = chat(mock.port(), &stream_chat(), Some("malformed_sse"));
    assert_eq!(malformed.sse_data()[1], "{not json");

    let invalid = chat(mock.port(), &stream_chat(), Some("invalid_utf8_sse"));
    assert!(invalid.body.windows(2).any(|w| w == [0xff, 0xff]));
    assert!(invalid.text().ends_with("data: [DONE]\n\n"));

    let guardrails = chat(mock.port(), &stream_chat(), Some("json_for_stream"));
    assert_eq!(guardrails.header("content-type"), Some("application/json"));
    assert_eq!(guardrails.json()["object"], "chat.completion");
}

#[test]
fn sse_framing_variants() {
    let mock = start();
    let crlf = chat(
        mock.port(),
        &stream_chat(),
        Some("crlf;comments;bom;chunks=2"),
    );
    let text = crlf.text();
    assert!(text.starts_with("\u{feff}: keep-alive\r\ndata: {"));
    assert!(text.ends_with(": keep-alive\r\ndata: [DONE]\r\n\r\n"));

    let cr = chat(mock.port(), &stream_chat(), Some("cr;chunks=1"));
    assert!(cr.text().ends_with("}\r\rdata: [DONE]\r\r"));

    let split = chat(mock.port(), &stream_chat(), Some("split_bytes"));
    assert_eq!(split.chunks.len(), split.body.len());
    assert_eq!(split.streamed_content(), "echo: hello");

    let utf8 = chat(mock.port(), &stream_chat(), Some("utf8_split"));
    assert!(utf8.complete);
    assert_eq!(utf8.chunks.len(), 2 * utf8.sse_data().len());
    assert!(utf8.chunks.iter().any(|c| std::str::from_utf8(c).is_err()));
    assert_eq!(utf8.streamed_content(), "aéb中c🦀déaéb中c🦀dé");

    let long = chat(mock.port(), &stream_chat(), Some("content_len=20;chunks=3"));
    assert_eq!(long.streamed_content(), "héllo wörld 🦀 中文 hél");
    assert_eq!(long.sse_data().len(), 4);
}

#[test]
fn broken_bodies_and_early_closes() {
    let mock = start();
    let malformed = chat(mock.port(), &json_chat(), Some("malformed_json"));
    assert_eq!(malformed.text(), r#"{"id": "x", "choices": ["#);

    let shape = chat(mock.port(), &json_chat(), Some("not_openai_shape"));
    assert_eq!(shape.json(), json!({"hello": "world"}));

    let invalid = chat(mock.port(), &json_chat(), Some("invalid_utf8_json"));
    assert!(invalid.body.windows(2).any(|w| w == [0xff, 0xfe]));
    assert!(serde_json::from_slice::<serde_json::Value>(&invalid.body).is_err());

    let no_body = chat(mock.port(), &json_chat(), Some("headers_no_body"));
    assert_eq!(no_body.header("content-length"), Some("100"));
    assert!(!no_body.complete);

    let chunked = chat(mock.port(), &stream_chat(), Some("truncated_chunked"));
    assert!(!chunked.complete);

    let auth = auth();
    let mut client = Client::connect(mock.port());
    client.send(
        "POST",
        common::CHAT,
        &[
            ("authorization", &auth),
            ("x-mock-fault", "reset_before_headers"),
        ],
        &json_chat(),
    );
    assert!(client.read_response().is_none());
    assert_eq!(
        mock.requests().len(),
        6,
        "the request was still read and recorded"
    );
}

#[test]
fn huge_bodies_are_valid_json_of_the_asked_size() {
    let mock = start();
    let huge = chat(mock.port(), &json_chat(), Some("huge_body_mib=2"));
    assert!(huge.complete);
    assert!(huge.body.len() > 2 * 1024 * 1024);
    let content = huge.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .len();
    assert_eq!(content, 2 * 1024 * 1024);

    // A client that leaves early does not wedge the mock.
    let auth = auth();
    let mut client = Client::connect(mock.port());
    client.send(
        "POST",
        common::CHAT,
        &[
            ("authorization", &auth),
            ("x-mock-fault", "huge_body_mib=64"),
        ],
        &json_chat(),
    );
    drop(client);
    assert_eq!(chat(mock.port(), &json_chat(), None).status, 200);
}
