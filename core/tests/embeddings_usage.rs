//! Embeddings (answer, errors, model selection) and the stream usage default with its one-time
//! fallback, against the mock gateway.

use std::collections::HashMap;

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::{json, Value};

fn client(m: &MockGateway, extra: Value) -> Client {
    let mut profile = json!({ "kind": "cloudflare", "base_url": m.base_url("acc", "gw"),
        "api_key": "embed-test-key", "model": "openai/gpt-4o-mini",
        "retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 100 });
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

#[test]
fn embeddings_post_to_the_embeddings_route_with_the_profile_model() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(
        &m,
        json!({ "embedding_model": "workers-ai/@cf/baai/bge-small-en-v1.5" }),
    );
    assert!(c.describe()["route"]["embeddings_endpoint"]
        .as_str()
        .unwrap()
        .ends_with("/v1/acc/gw/openai/compat/embeddings"));
    let answer = c
        .embeddings(
            json!({ "input": ["one two", "three"] }),
            &RequestOptions::default(),
        )
        .unwrap();
    let data = answer["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(
        answer["aigw"]["model"],
        "workers-ai/@cf/baai/bge-small-en-v1.5"
    );
    assert_eq!(answer["aigw"]["usage"]["input_tokens"], 3);
    assert_eq!(answer["aigw"]["usage"]["total_tokens"], 3);
    let sent = m.requests().last().unwrap().clone();
    assert!(sent.path.ends_with("/embeddings"));
    assert_eq!(
        sent.json().unwrap()["model"],
        "workers-ai/@cf/baai/bge-small-en-v1.5"
    );
    // The text form is the same answer.
    let text: Value = serde_json::from_str(
        &c.embeddings_text(
            json!({ "input": "one two", "model": "openai/text-embedding-3-small" }),
            &RequestOptions::default(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(text["data"][0]["embedding"], data[0]["embedding"]);
    assert_eq!(text["aigw"]["model"], "openai/text-embedding-3-small");
}

#[test]
fn embeddings_errors_are_typed_like_chat() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m, json!({ "retry_max_attempts": 2 }));
    let e = c
        .embeddings(json!({ "input": "x" }), &RequestOptions::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ModelSelection);
    assert!(
        e.message.contains("provider.embedding_model"),
        "{}",
        e.message
    );
    assert_eq!(m.requests().len(), 0, "nothing sent without a model");
    for (request, needle) in [
        (json!("text"), "must be a JSON object"),
        (json!({ "model": "openai/x" }), "needs an `input`"),
        (json!({ "input": [] }), "empty list"),
        (json!({ "input": 3 }), "a string or a list"),
    ] {
        let e = c
            .embeddings(request, &RequestOptions::default())
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains(needle), "{}", e.message);
    }
    let with_model = json!({ "input": "x", "model": "openai/text-embedding-3-small" });
    let e = c
        .embeddings(with_model.clone(), &faults("status=503"))
        .unwrap_err();
    assert_eq!(
        (e.code, e.attempts.len()),
        (ErrorCode::Provider, 2),
        "retried"
    );
    let e = c
        .embeddings(with_model.clone(), &faults("status=401"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Auth);
    let e = c
        .embeddings(with_model, &faults("not_openai_shape"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol, "{}", e.message);
}

#[test]
fn streams_ask_for_usage_and_fall_back_once_when_refused() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m, json!({}));
    let ask = || json!({ "messages": [{ "role": "user", "content": "a b c" }] });
    let mut stream = c.chat_stream(ask(), &RequestOptions::default()).unwrap();
    while stream.next_chunk().unwrap().is_some() {}
    assert_eq!(
        m.requests().last().unwrap().json().unwrap()["stream_options"],
        json!({ "include_usage": true })
    );
    assert_eq!(stream.meta()["usage"]["input_tokens"], 3);

    // A caller's own stream_options are left alone.
    let mut own = ask();
    own["stream_options"] = json!({ "include_usage": false });
    let mut stream = c.chat_stream(own, &RequestOptions::default()).unwrap();
    while stream.next_chunk().unwrap().is_some() {}
    assert_eq!(
        m.requests().last().unwrap().json().unwrap()["stream_options"],
        json!({ "include_usage": false })
    );
    assert!(stream.meta()["usage"]["total_tokens"].is_null());

    // An upstream that refuses the field: one more request without it, then never again.
    m.reset();
    let refusing = faults("reject_stream_options");
    let mut stream = c.chat_stream(ask(), &refusing).unwrap();
    let mut text = String::new();
    while let Some(chunk) = stream.next_chunk().unwrap() {
        text.push_str(
            chunk.value["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or(""),
        );
    }
    assert_eq!(text, "echo: a b c");
    let sent: Vec<Value> = m.requests().iter().map(|r| r.json().unwrap()).collect();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].get("stream_options").is_some());
    assert!(sent[1].get("stream_options").is_none());
    let mut stream = c.chat_stream(ask(), &refusing).unwrap();
    while stream.next_chunk().unwrap().is_some() {}
    assert_eq!(m.requests().len(), 3, "not asked again from this client");
    assert!(m.requests()[2]
        .json()
        .unwrap()
        .get("stream_options")
        .is_none());
}
