//! Bounded memory: a response far over `max_response_bytes` is refused without being
//! held. Its own test binary, so no other test's allocations move the peak it reads.

use std::collections::HashMap;

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use aigw_mock::{MockConfig, MockGateway};
use serde_json::json;

/// Peak resident set size of this process, KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_200_mib_body_is_refused_within_the_32_mib_limit() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec!["k".into()],
        ..MockConfig::default()
    })
    .unwrap();
    let profile = json!({ "kind": "cloudflare", "base_url": m.base_url("a", "g"), "model": "openai/gpt-4o-mini",
                          "retry_max_attempts": 1 });
    let env = Env::from_map(HashMap::from([(
        "CLOUDFLARE_API_KEY".to_string(),
        "k".to_string(),
    )]));
    let c = Client::with_env(Profile::from_value(&profile, "provider").unwrap(), env).unwrap();
    let before = peak_rss_kib();
    let options =
        RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": "huge_body_mib=200" } }))
            .unwrap();
    let e = c.chat(json!({ "messages": [] }), &options).unwrap_err();
    assert_eq!(e.code, ErrorCode::Protocol, "{e}");
    let grown_mib = (peak_rss_kib() - before) / 1024;
    // The body is read up to the 32 MiB limit (at most ~48 MiB while its buffer grows); holding
    // the whole 200 MiB answer would show here. The mock's own writes run in this process too.
    assert!(
        grown_mib < 100,
        "peak RSS grew {grown_mib} MiB for a refused 200 MiB body"
    );
}
