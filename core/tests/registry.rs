//! Whole-table checks of the compiled-in registry against `providers.json`.

use std::collections::HashSet;

use aigw_core::route::join_url;
use aigw_core::{providers, providers_json, resolve_kind};
use serde_json::Value;

fn source() -> Value {
    let path = format!("{}/data/providers.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_table_has_all_45_kinds_and_matches_the_source() {
    let src = source();
    let rows = src["providers"].as_array().unwrap();
    assert_eq!(rows.len(), 45);
    assert_eq!(providers().len(), 45);
    let exported = providers_json();
    for (row, out) in rows.iter().zip(exported.as_array().unwrap()) {
        for field in [
            "id",
            "display_name",
            "group",
            "protocol_family",
            "feature_family",
            "auth_scheme",
            "aliases",
            "default_base_url",
            "chat_path",
            "models_path",
            "models_url",
            "default_api_key_env",
            "api_key_env_aliases",
            "oauth_envs",
            "credential_envs",
            "auth_optional",
            "model_probe_auth_optional",
            "requires_tenant_base_url",
            "default_headers",
        ] {
            assert_eq!(row[field], out[field], "{}.{field}", row["id"]);
        }
    }
}

#[test]
fn derived_endpoints_equal_the_source() {
    let src = source();
    for row in src["providers"].as_array().unwrap() {
        let kind = resolve_kind(row["id"].as_str().unwrap()).unwrap();
        assert_eq!(
            join_url(&kind.default_base_url, &kind.chat_path),
            row["request_endpoint"].as_str().unwrap()
        );
        let models = kind.models_url.clone().or_else(|| {
            kind.models_path
                .as_ref()
                .map(|p| join_url(&kind.default_base_url, p))
        });
        assert_eq!(
            models.as_deref(),
            row["models_endpoint"].as_str(),
            "{}",
            kind.id
        );
        let envs: Vec<&str> = row["credential_envs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(kind.credential_envs, envs, "{}", kind.id);
        let mut chain = kind.key_env_chain();
        let mut listed = envs.clone();
        chain.sort();
        listed.sort();
        assert_eq!(
            chain, listed,
            "{}: the lookup chain covers exactly the credential envs",
            kind.id
        );
    }
}

#[test]
fn aliases_are_unique_never_shadow_an_id_and_round_trip() {
    let ids: HashSet<&str> = providers().iter().map(|k| k.id.as_str()).collect();
    let mut seen = HashSet::new();
    for kind in providers() {
        assert_eq!(resolve_kind(&kind.id).unwrap().id, kind.id);
        assert_eq!(
            resolve_kind(&format!("  {}  ", kind.id.to_uppercase()))
                .unwrap()
                .id,
            kind.id
        );
        for alias in &kind.aliases {
            assert!(!ids.contains(alias.as_str()), "alias {alias} shadows an id");
            assert!(seen.insert(alias.clone()), "alias {alias} is not unique");
            assert_eq!(resolve_kind(alias).unwrap().id, kind.id, "alias {alias}");
        }
    }
}

#[test]
fn typo_suggests_the_close_name() {
    let err = resolve_kind("cloudfare").unwrap_err();
    assert_eq!(err.code.as_str(), "CONFIG");
    assert!(err.message.contains("`cloudflare`"), "{}", err.message);
    let err = resolve_kind("zzzzzzzzzzzzzzzz").unwrap_err();
    assert!(err.message.contains("aigw providers"), "{}", err.message);
}

#[test]
fn the_shared_spec_copy_is_identical_when_present() {
    let shared = format!(
        "{}/../../shared/spec/providers.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if let Ok(text) = std::fs::read_to_string(shared) {
        let ours = std::fs::read_to_string(format!(
            "{}/data/providers.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(
            text, ours,
            "core/data/providers.json drifted from shared/spec/providers.json"
        );
    }
}
