//! Cloudflare AI Gateway as it behaves in 2026, against the mock taught the same behaviour: the
//! gateway's own refusals (its token, spending limit, policy) stay put and are not retried,
//! Guardrails and out-of-credit are named, 529 is retried, request ids come from every header
//! gateways and providers use, and the new response headers reach the answer's metadata.

use std::collections::HashMap;

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::{json, Value};

const KEY: &str = "cf2026-provider-key";

fn client(m: &MockGateway, extra: Value, keys: &str) -> Client {
    let mut profile = json!({ "kind": "cloudflare", "base_url": m.base_url("acc", "gw"),
        "model": "openai/gpt-4o-mini", "retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 100 });
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

#[test]
fn a_refused_gateway_token_is_auth_naming_it_and_keeps_the_key_pool_where_it_is() {
    let m = MockGateway::start(MockConfig {
        gateway_token: Some("the-right-gateway-token".into()),
        ..MockConfig::default()
    })
    .unwrap();
    let c = client(
        &m,
        json!({ "gateway": { "authorization": "a-wrong-gateway-token" } }),
        &format!("{KEY}-1,{KEY}-2"),
    );
    for _ in 0..2 {
        let e = c.chat(ask(), &RequestOptions::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::Auth, "{e}");
        assert_eq!(e.provider_code.as_deref(), Some("2009"));
        assert!(e.message.contains("gateway.authorization"), "{}", e.message);
        assert_eq!(e.attempts.len(), 1, "neither another key nor a retry");
        assert_eq!(e.attempts[0].key_index, 0, "the pool did not move");
    }
    assert_eq!(m.count_path_suffix("/chat/completions"), 2);
}

#[test]
fn spending_limit_and_policy_are_sent_once_and_typed() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(
        &m,
        json!({ "retry_max_attempts": 3 }),
        &format!("{KEY}-1,{KEY}-2"),
    );
    let e = c.chat(ask(), &faults("spending_limit")).unwrap_err();
    assert_eq!(
        (e.code, e.provider_code.as_deref(), e.http_status),
        (ErrorCode::RateLimited, Some("spending_limit"), Some(429))
    );
    assert!(e.message.contains("spending limit"), "{}", e.message);
    assert_eq!(
        m.count_path_suffix("/chat/completions"),
        1,
        "one request only"
    );

    let e = c.chat(ask(), &faults("policy_denied")).unwrap_err();
    assert_eq!(
        (e.code, e.provider_code.as_deref()),
        (ErrorCode::Auth, Some("policy"))
    );
    assert_eq!(
        m.count_path_suffix("/chat/completions"),
        2,
        "one request only"
    );
}

#[test]
fn guardrails_and_out_of_credit_are_named() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m, json!({ "retry_max_attempts": 1 }), KEY);
    for (spec, code) in [
        ("status=424;envelope=2016", "2016"),
        ("status=424;envelope=2017", "2017"),
        ("status=402;envelope=2021", "2021"),
    ] {
        let e = c.chat(ask(), &faults(spec)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Provider, "{spec}: {e}");
        assert_eq!(e.provider_code.as_deref(), Some(code), "{spec}");
        assert!(e.message.contains("Guardrails"), "{spec}: {}", e.message);
    }
}

#[test]
fn status_529_is_retried_like_503() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m, json!({ "retry_max_attempts": 3 }), KEY);
    let answer = c
        .chat(ask(), &faults("status=529;tag=overloaded;times=1"))
        .expect("the second attempt succeeds");
    let attempts = answer["aigw"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status"], 529);
}

#[test]
fn request_ids_come_from_the_first_header_present_and_name_it() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m, json!({}), KEY);
    let answer = c.chat(ask(), &RequestOptions::default()).unwrap();
    assert_eq!(answer["aigw"]["request_id_header"], "x-request-id");
    for header in [
        "cf-aig-request-id",
        "request-id",
        "x-amzn-requestid",
        "x-litellm-call-id",
    ] {
        let spec = format!("no_request_id;header={header}:id-from-{header}");
        let answer = c.chat(ask(), &faults(&spec)).unwrap();
        assert_eq!(answer["aigw"]["request_id"], format!("id-from-{header}"));
        assert_eq!(answer["aigw"]["request_id_header"], header);
        let e = c
            .chat(ask(), &faults(&format!("{spec};status=400")))
            .unwrap_err();
        assert_eq!(e.request_id, Some(format!("id-from-{header}")));
    }
}

#[test]
fn new_gateway_headers_reach_the_metadata_only_when_sent() {
    let m = MockGateway::start(MockConfig::default()).unwrap();
    let c = client(&m, json!({}), KEY);
    let plain = c.chat(ask(), &RequestOptions::default()).unwrap();
    for field in ["event_id", "upstream_model", "routed_model", "rate_limit"] {
        assert!(
            plain["aigw"].get(field).is_none(),
            "{field} without its header"
        );
    }
    let spec = [
        "header=cf-aig-event-id:ev-1",
        "header=cf-aig-request-id:gwreq-1",
        "header=cf-aig-model:gpt-4o-mini",
        "header=cf-aig-provider:openai",
        "header=cf-aig-routed-model:openai%2Fgpt-4o-mini",
        "header=cf-aig-routing-reason:default",
        "header=x-ratelimit-limit-requests:100",
        "header=x-ratelimit-remaining-tokens:5000",
        "header=x-ratelimit-reset-requests:1s",
    ]
    .join(";");
    for stream in [false, true] {
        let meta = if stream {
            c.chat_stream(ask(), &faults(&spec)).unwrap().meta().clone()
        } else {
            c.chat(ask(), &faults(&spec)).unwrap()["aigw"].clone()
        };
        assert_eq!(meta["event_id"], "ev-1");
        assert_eq!(meta["gateway_request_id"], "gwreq-1");
        assert_eq!(meta["upstream_model"], "gpt-4o-mini");
        assert_eq!(meta["upstream_provider"], "openai");
        assert_eq!(meta["routed_model"], "openai/gpt-4o-mini");
        assert_eq!(meta["routing_reason"], "default");
        assert_eq!(
            meta["rate_limit"],
            json!({"limit_requests": 100, "remaining_tokens": 5000, "reset_requests": "1s"})
        );
    }
}
