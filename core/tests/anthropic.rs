//! The `anthropic` kind end to end against the mock's Messages surface: requests translated from
//! OpenAI's shape, answers, tool calls, streams (text and tool-call deltas, truncation, error
//! events) and errors translated back, usage from Anthropic's counts.

use std::collections::HashMap;

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::{json, Value};

const KEY: &str = "anthropic-test-key-1";

fn mock() -> MockGateway {
    MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap()
}

fn client(m: &MockGateway, extra: Value) -> Client {
    let mut profile = json!({ "kind": "anthropic", "base_url": m.url(), "api_key": KEY,
        "model": "claude-sonnet-4-5", "retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 100 });
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
    json!({ "messages": [{ "role": "user", "content": text }] })
}

#[test]
fn the_request_is_translated_into_a_messages_request() {
    let m = mock();
    let c = client(&m, json!({}));
    let request = json!({
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "one" },
            { "role": "user", "content": [{ "type": "text", "text": "two" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } }] },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1", "type": "function",
                "function": { "name": "lookup", "arguments": "{\"q\":\"x\"}" } }] },
            { "role": "tool", "tool_call_id": "call_1", "content": "found" },
            { "role": "user", "content": "and?" }
        ],
        "max_completion_tokens": 100, "temperature": 0.5, "stop": "END", "user": "u-1",
        "tools": [{ "type": "function", "function": { "name": "lookup", "description": "find",
            "parameters": { "type": "object", "properties": { "q": { "type": "string" } } } } }],
        "tool_choice": "required"
    });
    let answer = c.chat(request, &RequestOptions::default()).unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "echo: and?");
    let sent = m.requests().last().unwrap().clone();
    assert!(sent.path.ends_with("/v1/messages"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert!(sent.header("authorization").is_none());
    let body = sent.json().unwrap();
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-5", "max_tokens": 100, "system": "Be brief.",
            "messages": [
                { "role": "user", "content": [{ "type": "text", "text": "one" }, { "type": "text", "text": "two" },
                    { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "AAAA" } }] },
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "call_1", "name": "lookup", "input": { "q": "x" } }] },
                { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "call_1", "content": "found" },
                    { "type": "text", "text": "and?" }] }
            ],
            "temperature": 0.5, "stop_sequences": ["END"],
            "tools": [{ "name": "lookup", "description": "find",
                "input_schema": { "type": "object", "properties": { "q": { "type": "string" } } } }],
            "tool_choice": { "type": "any" }, "metadata": { "user_id": "u-1" }
        })
    );
    // max_tokens defaults to 4096; n > 1 has no Messages form.
    c.chat(ask("x"), &RequestOptions::default()).unwrap();
    assert_eq!(
        m.requests().last().unwrap().json().unwrap()["max_tokens"],
        4096
    );
    let mut many = ask("x");
    many["n"] = json!(2);
    let e = c.chat(many, &RequestOptions::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::Unsupported);
    assert!(e.message.contains("`n`"), "{}", e.message);
}

#[test]
fn answers_tool_calls_and_usage_come_back_in_openai_shape() {
    let m = mock();
    let c = client(&m, json!({}));
    let answer = c
        .chat(ask("hello there"), &RequestOptions::default())
        .unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["aigw"]["usage"]["input_tokens"], 2);
    assert_eq!(answer["aigw"]["usage"]["output_tokens"], 3);
    let usage = json!({ "input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20 });
    let answer = c
        .chat(ask("x"), &faults(&format!("usage={usage}")))
        .unwrap();
    assert_eq!(
        answer["aigw"]["usage"],
        json!({ "input_tokens": 10, "cached_input_tokens": 100, "cache_write_tokens": 20,
            "reasoning_tokens": null, "output_tokens": 5, "total_tokens": 135 })
    );
    assert_eq!(answer["usage"]["prompt_tokens"], 130);
    let text: Value = serde_json::from_str(
        &c.chat_text(ask("x"), &faults("tool_call=lookup:%7B%22q%22%3A1%7D"))
            .unwrap(),
    )
    .unwrap();
    let message = &text["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null);
    assert_eq!(message["tool_calls"][0]["function"]["name"], "lookup");
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        "{\"q\":1}"
    );
    assert_eq!(text["choices"][0]["finish_reason"], "tool_calls");
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
fn streams_are_openai_chunks_with_usage_at_the_end() {
    let m = mock();
    let c = client(&m, json!({}));
    let (chunks, meta) = collect(&c, "chunks=3").unwrap();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo: stream this");
    let finish = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect::<Vec<_>>();
    assert_eq!(finish, ["stop"]);
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert_eq!(meta["usage"]["input_tokens"], 2);
    assert_eq!(meta["usage"]["output_tokens"], 3);
    assert!(m
        .requests()
        .last()
        .unwrap()
        .json()
        .unwrap()
        .get("stream_options")
        .is_none());

    let (chunks, _) = collect(&c, "tool_call=lookup:%7B%22q%22%3A%22abc%22%7D;chunks=3").unwrap();
    let first_call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first_call["function"]["name"], "lookup");
    assert_eq!(first_call["index"], 0);
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"q\":\"abc\"}");

    let e = collect(&c, "truncate_after=4").unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(e.message.contains("stream truncated"), "{}", e.message);

    let e = collect(&c, "error_type=overloaded_error").unwrap_err();
    assert_eq!(e.provider_code.as_deref(), Some("overloaded_error"), "{e}");
}

#[test]
fn errors_are_typed_and_overloaded_is_retried() {
    let m = mock();
    let c = client(&m, json!({ "retry_max_attempts": 3 }));
    let answer = c
        .chat(
            ask("x"),
            &faults("status=529;error_type=overloaded_error;tag=o;times=1"),
        )
        .unwrap();
    assert_eq!(answer["aigw"]["attempts"][0]["status"], 529);
    let e = c
        .chat(
            ask("x"),
            &faults("status=400;error_type=invalid_request_error"),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.provider_code.as_deref()),
        (ErrorCode::Provider, Some("invalid_request_error"))
    );
    let wrong = client(&m, json!({ "api_key": "not-the-key-123" }));
    let e = wrong
        .chat(ask("x"), &RequestOptions::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth);
    assert_eq!(e.provider_code.as_deref(), Some("authentication_error"));
    let models = c.list_models().unwrap();
    assert_eq!(models[0]["id"], "claude-sonnet-4-5");
}

#[test]
fn cloudflare_s_anthropic_route_works_and_is_described() {
    let m = mock();
    let c = client(
        &m,
        json!({ "base_url": format!("{}/v1/0123456789abcdef0123456789abcdef/gw/anthropic", m.url()) }),
    );
    let answer = c
        .chat(ask("via gateway"), &RequestOptions::default())
        .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: via gateway"
    );
    assert!(m
        .requests()
        .last()
        .unwrap()
        .path
        .ends_with("/gw/anthropic/v1/messages"));
    let real = Client::with_env(
        Profile::from_value(
            &json!({ "kind": "anthropic", "api_key": KEY,
                "base_url": "https://gateway.ai.cloudflare.com/v1/0123456789abcdef0123456789abcdef/gw/anthropic" }),
            "provider",
        )
        .unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap();
    let route = &real.describe()["route"];
    assert_eq!(route["account_id"], "0123456789abcdef0123456789abcdef");
    assert_eq!(route["gateway_name"], "gw");
}
