//! The config tables are the single list of fields: every field they name parses, shows in
//! `describe()`, and nothing parses that they do not name.

use std::collections::HashMap;

use aigw_core::gateway::GATEWAY_FIELDS;
use aigw_core::profile::{BOUNDS, PROFILE_FIELDS};
use aigw_core::{Client, Env, Profile};
use serde_json::{json, Map, Value};

/// A valid value for every gateway option; a new option must get one here.
fn gateway_sample() -> Map<String, Value> {
    let sample = json!({
        "authorization": { "env": "CF_AIG_TOKEN" },
        "cache_ttl": 300,
        "skip_cache": true,
        "cache_key": "k",
        "metadata": { "team": "a" },
        "collect_log": true,
        "collect_log_payload": false,
        "request_timeout_ms": 9000,
        "max_attempts": 2,
        "retry_delay_ms": 100,
        "backoff": "linear",
        "event_id": "e",
        "byok_alias": "b",
        "custom_cost": { "per_token_in": 0.000001 },
        "zdr": true,
        "no_wholesale": true,
        "session_id": "s",
        "turn_id": "t",
        "no_session_affinity": true,
        "allowed_models": ["openai/*"],
        "allowed_providers": "openai",
        "otel_trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "otel_parent_span_id": "00f067aa0ba902b7",
    });
    sample.as_object().cloned().unwrap_or_default()
}

/// A valid value for every profile field; a new field must get one here.
fn profile_sample() -> Map<String, Value> {
    let mut sample = json!({
        "kind": "cloudflare",
        "base_url": "https://gateway.ai.cloudflare.com/v1/0123456789abcdef0123456789abcdef/gw/compat",
        "account_id": "0123456789abcdef0123456789abcdef",
        "gateway_name": "gw",
        "region": "us-east-1",
        "endpoint": "https://gateway.ai.cloudflare.com/v1/0123456789abcdef0123456789abcdef/gw/compat/chat/completions",
        "models_endpoint": "https://gateway.ai.cloudflare.com/v1/0123456789abcdef0123456789abcdef/gw/compat/models",
        "model": "openai/gpt-4o-mini",
        "preferred_models": ["openai/gpt-4o"],
        "embedding_model": "openai/text-embedding-3-small",
        "api_key": "table-test-key-1",
        "api_key_env": "TABLE_TEST_KEY",
        "headers": { "x-team": "a" },
        "allow_http": false,
        "prices": { "openai/gpt-4o-mini": { "input_per_mtok": 0.15, "output_per_mtok": 0.6 } },
    });
    let map = sample.as_object_mut().unwrap();
    for b in BOUNDS {
        map.insert(b.name.to_string(), json!(b.max));
    }
    map.insert("gateway".to_string(), Value::Object(gateway_sample()));
    map.clone()
}

#[test]
fn the_samples_cover_exactly_the_listed_fields() {
    let sample = gateway_sample();
    let gateway: Vec<&str> = sample.keys().map(String::as_str).collect();
    let mut listed = GATEWAY_FIELDS.to_vec();
    listed.sort_unstable();
    assert_eq!(
        gateway, listed,
        "gateway_sample() must give every GATEWAY_FIELDS entry"
    );
    let mut profile: Vec<String> = profile_sample().keys().cloned().collect();
    profile.sort_unstable();
    let mut listed: Vec<String> = PROFILE_FIELDS.iter().map(|f| f.to_string()).collect();
    listed.sort_unstable();
    assert_eq!(
        profile, listed,
        "profile_sample() must give every PROFILE_FIELDS entry"
    );
}

#[test]
fn every_listed_field_parses_and_shows_in_describe() {
    let profile = Profile::from_value(&Value::Object(profile_sample()), "provider")
        .expect("the sample with every field parses");
    let env = Env::from_map(HashMap::from([(
        "CF_AIG_TOKEN".to_string(),
        "table-test-gateway-token".to_string(),
    )]));
    let described = Client::with_env(profile, env).unwrap().describe();
    for field in GATEWAY_FIELDS {
        assert!(
            !described["gateway"][field].is_null(),
            "gateway.{field} is not shown by describe()"
        );
    }
    for b in BOUNDS {
        assert_eq!(described["transport"][b.name], json!(b.max), "{}", b.name);
    }
}

#[test]
fn a_field_outside_the_tables_is_refused_with_its_path() {
    for (path, table) in [
        ("provider", profile_sample()),
        ("provider.gateway", gateway_sample()),
    ] {
        let mut with_typo = table.clone();
        with_typo.insert("not_a_field".to_string(), json!(1));
        let value = if path == "provider" {
            Value::Object(with_typo)
        } else {
            json!({ "kind": "cloudflare", "gateway": with_typo })
        };
        let e = Profile::from_value(&value, "provider").unwrap_err();
        assert!(
            e.message
                .contains(&format!("unknown field `{path}.not_a_field`")),
            "{}",
            e.message
        );
    }
}
