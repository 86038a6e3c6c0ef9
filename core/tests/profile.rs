//! Config files, profile selection, clamps, and the redaction guarantee.

use std::collections::HashMap;

use aigw_core::auth::{resolve_credentials, split_key_pool, Headers};
use aigw_core::{
    resolve_kind, Client, ConfigFile, Env, ErrorCode, Profile, RequestOptions, SecretRef,
};
use serde_json::json;

const KEY: &str = "sk-RECOGNISABLE-9f8e7d6c5b4a";

#[test]
fn toml_config_with_active_provider() {
    let cfg = ConfigFile::from_toml_str(
        r#"
active_provider = "prod"

[providers.prod]
kind = "cloudflare"
account_id = "0123456789abcdef0123456789abcdef"
gateway_name = "prod-gw"
model = "openai/gpt-4o-mini"
api_key = { env = "CF_KEY" }

[providers.prod.gateway]
cache_ttl = 120
metadata = { team = "search", tier = 2 }

[providers.local]
kind = "ollama"
"#,
    )
    .unwrap();
    let (id, profile) = cfg.select(None).unwrap();
    assert_eq!(id, "prod");
    assert_eq!(profile.model.as_deref(), Some("openai/gpt-4o-mini"));
    assert_eq!(profile.api_key, Some(SecretRef::Env("CF_KEY".into())));
    assert_eq!(profile.gateway.cache_ttl, Some(120));
    let (id, _) = cfg.select(Some("local")).unwrap();
    assert_eq!(id, "local");
    let err = cfg.select(Some("nope")).unwrap_err();
    assert_eq!(err.code, ErrorCode::Config);
    assert!(
        err.message.contains("prod") && err.message.contains("local"),
        "{}",
        err.message
    );
}

#[test]
fn selection_rules() {
    let one = ConfigFile::from_json_str(r#"{"providers":{"only":{"kind":"openai"}}}"#).unwrap();
    assert_eq!(one.select(None).unwrap().0, "only");
    let two =
        ConfigFile::from_json_str(r#"{"providers":{"a":{"kind":"openai"},"b":{"kind":"groq"}}}"#)
            .unwrap();
    let err = two.select(None).unwrap_err();
    assert!(err.message.contains("candidates: a, b"), "{}", err.message);
    let bad_active =
        ConfigFile::from_json_str(r#"{"active_provider":"c","providers":{"a":{"kind":"openai"}}}"#)
            .unwrap();
    assert!(bad_active
        .select(None)
        .unwrap_err()
        .message
        .contains("active_provider `c`"));
    let none = ConfigFile::from_json_str(r#"{}"#).unwrap();
    assert!(none
        .select(None)
        .unwrap_err()
        .message
        .contains("none are defined"));
}

#[test]
fn unknown_fields_and_bad_ids_are_config_errors_with_paths() {
    let err =
        ConfigFile::from_toml_str("[providers.p]\nkind = \"openai\"\nmodle = \"x\"\n").unwrap_err();
    assert_eq!(err.code, ErrorCode::Config);
    assert!(err.message.contains("providers.p.modle"), "{}", err.message);
    let err = ConfigFile::from_toml_str("activ_provider = \"p\"\n").unwrap_err();
    assert!(
        err.message.contains("config.activ_provider"),
        "{}",
        err.message
    );
    let err = ConfigFile::from_toml_str("[providers.Bad]\nkind = \"openai\"\n").unwrap_err();
    assert!(err.message.contains("`Bad`"), "{}", err.message);
    let err = ConfigFile::from_json_str(
        r#"{"providers":{"p":{"kind":"openai","retry_max_attempts":"3"}}}"#,
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("providers.p.retry_max_attempts must be a non-negative integer"),
        "{}",
        err.message
    );
}

#[test]
fn toml_syntax_errors_never_echo_the_line() {
    let err = ConfigFile::from_toml_str(&format!(
        "[providers.p]\nkind = \"openai\"\napi_key = \"{KEY}\" oops\n"
    ))
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Config);
    assert!(err.message.contains("line 3"), "{}", err.message);
    assert!(!err.message.contains(KEY), "{}", err.message);
}

#[test]
fn defaults_and_clamps() {
    let p = Profile::from_value(&json!({"kind": "openai"}), "provider").unwrap();
    assert_eq!(
        (
            p.connect_timeout_ms,
            p.request_timeout_ms,
            p.stream_idle_timeout_ms
        ),
        (5000, 600000, 300000)
    );
    assert_eq!(
        (
            p.retry_max_attempts,
            p.retry_initial_backoff_ms,
            p.retry_max_backoff_ms
        ),
        (3, 300, 3000)
    );
    assert_eq!(
        (
            p.model_catalog_cache_ttl_ms,
            p.model_catalog_stale_if_error_ms
        ),
        (30000, 120000)
    );
    assert_eq!(p.model, None);
    let p = Profile::from_value(
        &json!({"kind": "openai", "connect_timeout_ms": 1, "request_timeout_ms": 99_999_999, "retry_max_attempts": 0,
                "retry_initial_backoff_ms": 5000, "retry_max_backoff_ms": 100, "model_catalog_cache_ttl_ms": 0,
                "model": "AUTO"}),
        "provider",
    )
    .unwrap();
    assert_eq!(p.connect_timeout_ms, 100);
    assert_eq!(p.request_timeout_ms, 3_600_000);
    assert_eq!(p.retry_max_attempts, 1);
    assert_eq!(
        p.retry_max_backoff_ms, 5000,
        "max backoff is raised to the initial backoff"
    );
    assert_eq!(p.model_catalog_cache_ttl_ms, 0);
    assert_eq!(p.model, None, "auto in any case means discovery");
}

#[test]
fn request_options_parse_and_validate() {
    let o = RequestOptions::from_json_str(
        r#"{"gateway":{"skip_cache":true},"headers":{"x-a":"1"},"timeoutMs":5}"#,
    )
    .unwrap();
    assert_eq!(o.timeout_ms, Some(5));
    assert_eq!(o.gateway.unwrap().skip_cache, Some(true));
    let err = RequestOptions::from_json_str(r#"{"gateway":{"retry_delay_ms":6000}}"#).unwrap_err();
    assert_eq!(err.code, ErrorCode::Config);
    assert!(RequestOptions::from_json_str(r#"{"bogus":1}"#)
        .unwrap_err()
        .message
        .contains("options.bogus"));
}

/// Every credential-bearing value this suite can build, formatted every way it can be.
#[test]
fn no_form_of_any_credential_bearing_value_contains_the_key() {
    let env = Env::from_map(HashMap::from([(
        "CLOUDFLARE_API_KEY".to_string(),
        KEY.to_string(),
    )]));
    // Loopback port 9 (discard) refuses connections: the chat below fails without leaving the machine.
    let base = "http://127.0.0.1:9/v1/a/g/openai/compat";
    let profiles = [
        json!({"kind": "cloudflare", "base_url": base, "api_key": KEY}),
        json!({"kind": "cloudflare", "base_url": base, "api_key": format!("{KEY},other"), "model": "openai/x"}),
        json!({"kind": "cloudflare", "base_url": base}),
        json!({"kind": "cloudflare", "base_url": base, "headers": {"Authorization": format!("Bearer {KEY}"), "x-api-key": KEY}}),
        json!({"kind": "cloudflare", "gateway": {"authorization": KEY}}),
        json!({"kind": "cloudflare", "base_url": base, "model": "m", "gateway": {"authorization": KEY}}),
        json!({"kind": "anthropic", "api_key": KEY}),
    ];
    let mut rendered = Vec::new();
    for value in &profiles {
        let mut value = value.clone();
        value["retry_max_attempts"] = json!(1);
        let profile = Profile::from_value(&value, "provider").unwrap();
        rendered.push(format!("{profile:?}"));
        rendered.push(format!("{:?}", profile.api_key));
        rendered.push(format!("{:?}", profile.headers));
        rendered.push(format!("{:?}", profile.gateway));
        let kind = resolve_kind(&profile.kind).unwrap();
        let creds = resolve_credentials(&profile, kind, &env);
        rendered.push(format!("{creds:?}"));
        let client = Client::with_env(profile, env.clone()).unwrap();
        rendered.push(format!("{client:?}"));
        rendered.push(client.describe().to_string());
        rendered.push(serde_json::to_string_pretty(&client.describe()).unwrap());
        if let Err(e) = client.chat(json!({"messages": []}), &RequestOptions::default()) {
            rendered.push(format!("{e} {e:?} {}", e.to_json()));
        }
    }
    rendered.push(format!("{:?}", split_key_pool(KEY)));
    rendered.push(format!("{:?}", SecretRef::parse(KEY)));
    rendered.push(format!(
        "{:?}",
        Headers::from_pairs(vec![("Authorization".into(), KEY.into())], "h").unwrap()
    ));
    let bad =
        Headers::from_pairs(vec![("Authorization".into(), format!("{KEY}\r\n"))], "h").unwrap_err();
    rendered.push(format!("{bad} {bad:?}"));
    let bad_json =
        Profile::from_json_str(&format!("{{\"kind\":\"openai\",\"api_key\":\"{KEY}\",}}"))
            .unwrap_err();
    rendered.push(format!("{bad_json} {bad_json:?}"));
    for text in &rendered {
        assert!(!text.contains(KEY), "key leaked in: {text}");
        assert!(
            !text.contains("RECOGNISABLE"),
            "key fragment leaked in: {text}"
        );
    }
    assert!(rendered.len() > 50);
}
