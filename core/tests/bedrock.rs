//! The `bedrock` kind end to end against the mock's Converse surface: the region and the
//! path-encoded model id in the URL, requests translated, answers, tool calls and
//! `converse-stream` event-stream frames translated back (CRC-checked; a cut or corrupt frame is
//! `PROTOCOL`; exception frames typed), errors named by `x-amzn-ErrorType`.

use std::collections::HashMap;

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::{json, Value};

const KEY: &str = "bedrock-test-key-1";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn mock() -> MockGateway {
    MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap()
}

fn client(m: &MockGateway, extra: Value) -> Client {
    let mut profile = json!({ "kind": "bedrock", "base_url": m.url(), "api_key": KEY,
        "models_endpoint": format!("{}/foundation-models", m.url()),
        "model": MODEL, "retry_max_attempts": 1 });
    for (k, v) in extra.as_object().into_iter().flatten() {
        profile[k] = v.clone();
    }
    Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap()
}

fn faults(spec: &str) -> RequestOptions {
    RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } })).unwrap()
}

fn ask(text: &str) -> Value {
    json!({ "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": text }],
        "max_tokens": 50, "temperature": 0.2, "stop": ["END"] })
}

#[test]
fn the_region_fills_the_template_and_an_unset_one_has_its_own_hint() {
    let make = |extra: Value| {
        let mut p = json!({ "kind": "bedrock", "api_key": KEY, "model": MODEL });
        for (k, v) in extra.as_object().into_iter().flatten() {
            p[k] = v.clone();
        }
        Client::with_env(
            Profile::from_value(&p, "provider").unwrap(),
            Env::from_map(HashMap::new()),
        )
        .unwrap()
    };
    let route = make(json!({ "region": "eu-west-1" })).describe()["route"].clone();
    assert_eq!(
        route["request_endpoint"],
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/{modelId}/converse"
    );
    assert_eq!(
        route["models_endpoint"],
        "https://bedrock.eu-west-1.amazonaws.com/foundation-models"
    );
    let e = make(json!({}))
        .chat(ask("x"), &RequestOptions::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Config);
    assert!(e.message.contains("set provider.region"), "{}", e.message);
}

#[test]
fn converse_is_translated_both_ways() {
    let m = mock();
    let c = client(&m, json!({}));
    let answer = c
        .chat(ask("hello there"), &RequestOptions::default())
        .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["aigw"]["usage"]["input_tokens"], 2);
    let sent = m.requests().last().unwrap().clone();
    assert_eq!(
        sent.path,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        sent.json().unwrap(),
        json!({ "messages": [{ "role": "user", "content": [{ "text": "hello there" }] }],
            "system": [{ "text": "Be brief." }],
            "inferenceConfig": { "maxTokens": 50, "temperature": 0.2, "stopSequences": ["END"] } })
    );
    let tool = c
        .chat(ask("x"), &faults("tool_call=lookup:%7B%22q%22%3A1%7D"))
        .unwrap();
    let call = &tool["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["arguments"], "{\"q\":1}");
    assert_eq!(tool["choices"][0]["finish_reason"], "tool_calls");
    let models = c.list_models().unwrap();
    assert_eq!(models[0]["id"], MODEL);
    assert_eq!(
        models[0]["providerName"], "Anthropic",
        "every catalog field kept"
    );
}

fn collect(c: &Client, spec: &str) -> aigw_core::Result<(Vec<Value>, Value)> {
    let mut stream = c.chat_stream(ask("stream this"), &faults(spec))?;
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next_chunk()? {
        chunks.push(chunk.value);
    }
    Ok((chunks, stream.meta().clone()))
}

#[test]
fn converse_stream_frames_become_openai_chunks() {
    let m = mock();
    let c = client(&m, json!({}));
    let (chunks, meta) = collect(&c, "chunks=3").unwrap();
    assert!(m
        .requests()
        .last()
        .unwrap()
        .path
        .ends_with("%3A0/converse-stream"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: stream this");
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert_eq!(meta["usage"]["input_tokens"], 2);

    let (chunks, _) = collect(&c, "tool_call=lookup:%7B%22q%22%3A%22abc%22%7D;chunks=3").unwrap();
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"q\":\"abc\"}");

    let e = collect(&c, "truncate_after=3").unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(e.message.contains("stream truncated"), "{}", e.message);
    let e = collect(&c, "malformed_sse").unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(e.message.contains("CRC"), "{}", e.message);
    let e = collect(&c, "error_type=throttlingException").unwrap_err();
    assert_eq!(
        (e.code, e.provider_code.as_deref()),
        (ErrorCode::RateLimited, Some("throttlingException"))
    );
    let e = collect(&c, "error_type=modelStreamErrorException").unwrap_err();
    assert_eq!(e.code, ErrorCode::Provider);
}

#[test]
fn errors_are_named_by_x_amzn_errortype_and_cloudflare_s_route_works() {
    let m = mock();
    let c = client(&m, json!({}));
    let e = c
        .chat(
            ask("x"),
            &faults("status=429;error_type=ThrottlingException"),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.provider_code.as_deref()),
        (ErrorCode::RateLimited, Some("ThrottlingException"))
    );
    let e = client(&m, json!({ "api_key": "wrong-key-1234" }))
        .chat(ask("x"), &RequestOptions::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth);
    let via = client(
        &m,
        json!({ "base_url": format!("{}/v1/0123456789abcdef0123456789abcdef/gw/aws-bedrock/bedrock-runtime/us-east-1", m.url()) }),
    );
    let answer = via
        .chat(ask("via gateway"), &RequestOptions::default())
        .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: via gateway"
    );
    assert!(m.requests().last().unwrap().path.starts_with(
        "/v1/0123456789abcdef0123456789abcdef/gw/aws-bedrock/bedrock-runtime/us-east-1/model/"
    ));
}

#[test]
fn frames_before_a_corrupt_one_are_delivered_however_the_bytes_were_split() {
    let m = mock();
    let c = client(&m, json!({}));
    // messageStart and the first delta arrive intact, then a frame with a bad CRC: the two
    // chunks come out first, then PROTOCOL — whether the three frames came in one read or many.
    for spec in ["malformed_sse", "malformed_sse;split_bytes"] {
        for _ in 0..5 {
            let mut stream = c.chat_stream(ask("stream this"), &faults(spec)).unwrap();
            let mut chunks = Vec::new();
            let e = loop {
                match stream.next_chunk() {
                    Ok(Some(chunk)) => chunks.push(chunk.value),
                    Ok(None) => panic!("{spec}: the stream ended without the CRC error"),
                    Err(e) => break e,
                }
            };
            assert_eq!(e.code, ErrorCode::Protocol, "{spec}");
            assert!(e.message.contains("CRC"), "{spec}: {}", e.message);
            assert_eq!(chunks.len(), 2, "{spec}: {chunks:?}");
            assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
            assert!(chunks[1]["choices"][0]["delta"]["content"].is_string());
        }
    }
}
