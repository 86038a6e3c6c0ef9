//! Secret hygiene: every error path and diagnostic reachable against the mock is run with a
//! recognisable key and gateway token, and every message, descriptor, doctor report, Debug form,
//! stream item and metadata object is scanned for them.

use std::collections::HashMap;

use aigw_core::{Client, Env, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::json;

const KEY: &str = "sk-HYGIENE-4c1d2e3f5a6b";
const TOKEN: &str = "cfut-HYGIENE-TOKEN-77e1";

const FAULTS: &[&str] = &[
    "",
    "status=400",
    "status=401",
    "status=403;envelope=2009",
    "status=404",
    "status=429;retry_after_ms=5",
    "status=429;error_code=insufficient_quota",
    "status=500",
    "status=503;retry_after=60",
    "v4_errors;status=401",
    "envelope=2008",
    "reset_before_headers",
    "headers_no_body",
    "truncated_chunked",
    "malformed_json",
    "invalid_utf8_json",
    "not_openai_shape",
    "malformed_sse",
    "invalid_utf8_sse",
    "sse_error_frame",
    "sse_event_error",
    "json_for_stream",
    "reset_after=2",
    "truncate_after=2",
    "delay_ms=1500",
    "huge_body_mib=33",
    "models:status=500",
];

fn scan(label: &str, text: &str) {
    for secret in [KEY, TOKEN, "HYGIENE"] {
        assert!(!text.contains(secret), "{label}: secret text in `{text}`");
    }
}

fn collect_result<T: std::fmt::Debug>(
    out: &mut Vec<(String, String)>,
    label: &str,
    r: &aigw_core::Result<T>,
) {
    match r {
        Ok(v) => out.push((label.to_string(), format!("{v:?}"))),
        Err(e) => {
            out.push((label.to_string(), format!("{e}")));
            out.push((label.to_string(), format!("{e:?}")));
            out.push((label.to_string(), e.to_json().to_string()));
        }
    }
}

#[test]
fn no_output_of_any_path_contains_the_key_or_the_gateway_token() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        gateway_token: Some(TOKEN.to_string()),
        ..MockConfig::default()
    })
    .unwrap();
    let env = Env::from_map(HashMap::from([
        ("CLOUDFLARE_API_KEY".to_string(), KEY.to_string()),
        ("CF_AIG_TOKEN".to_string(), TOKEN.to_string()),
    ]));
    let mut outputs: Vec<(String, String)> = Vec::new();
    let base = m.base_url("0123456789abcdef0123456789abcdef", "hygiene");
    let profiles = [
        json!({ "kind": "cloudflare", "base_url": base, "model": "openai/gpt-4o-mini", "gateway": { "authorization": { "env": "CF_AIG_TOKEN" } } }),
        json!({ "kind": "cloudflare", "base_url": base, "gateway": { "authorization": TOKEN } }),
        json!({ "kind": "cloudflare", "base_url": base, "api_key": format!("wrong-{KEY}, {KEY}"), "model": "openai/gpt-4o",
                "gateway": { "authorization": TOKEN } }),
        json!({ "kind": "cloudflare", "base_url": base, "model": "openai/gpt-4o",
                "headers": { "Authorization": format!("Bearer {KEY}"), "cf-aig-authorization": format!("Bearer {TOKEN}") } }),
        json!({ "kind": "cloudflare", "base_url": base, "api_key": KEY, "preferred_models": ["openai/gpt-4o"] }),
    ];
    for (p, profile) in profiles.iter().enumerate() {
        let mut profile = profile.clone();
        profile["retry_max_attempts"] = json!(2);
        profile["retry_initial_backoff_ms"] = json!(50);
        profile["request_timeout_ms"] = json!(1000);
        profile["stream_idle_timeout_ms"] = json!(1000);
        let parsed = Profile::from_value(&profile, "provider").unwrap();
        outputs.push((format!("profile {p}"), format!("{parsed:?}")));
        let client = Client::with_env(parsed, env.clone()).unwrap();
        outputs.push((format!("client {p}"), format!("{client:?}")));
        outputs.push((format!("describe {p}"), client.describe().to_string()));
        outputs.push((format!("doctor {p}"), client.doctor().to_string()));
        collect_result(
            &mut outputs,
            &format!("list_models {p}"),
            &client.list_models(),
        );
        for spec in FAULTS {
            let options =
                RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } }))
                    .unwrap();
            outputs.push((format!("options {spec}"), format!("{options:?}")));
            let req = json!({ "messages": [{ "role": "user", "content": "hi" }] });
            collect_result(
                &mut outputs,
                &format!("chat {p} {spec}"),
                &client.chat(req.clone(), &options),
            );
            match client.chat_stream(req, &options) {
                Ok(mut stream) => {
                    outputs.push((format!("meta {p} {spec}"), stream.meta().to_string()));
                    loop {
                        let item = stream.next_chunk();
                        collect_result(&mut outputs, &format!("stream {p} {spec}"), &item);
                        if !matches!(item, Ok(Some(_))) {
                            break;
                        }
                    }
                }
                Err(e) => {
                    collect_result::<()>(&mut outputs, &format!("stream open {p} {spec}"), &Err(e))
                }
            }
        }
    }
    let missing = Client::with_env(
        Profile::from_value(&json!({ "kind": "cloudflare", "base_url": base, "api_key": { "env": "UNSET_VAR_FOR_SCAN" } }), "provider").unwrap(),
        env.clone(),
    )
    .unwrap();
    outputs.push(("missing doctor".into(), missing.doctor().to_string()));
    collect_result(
        &mut outputs,
        "missing chat",
        &missing.chat(json!({ "messages": [] }), &RequestOptions::default()),
    );
    for (label, text) in &outputs {
        scan(label, text);
    }
    assert!(
        outputs.len() > 400,
        "the scan covered {} outputs",
        outputs.len()
    );
}
