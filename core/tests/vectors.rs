//! Replays the language-neutral vectors of `tests/vectors/` against the Rust core.

use std::collections::HashMap;

use aigw_core::{resolve_kind, Client, Env, ErrorCode, Profile};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let path = format!("{}/../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn env_of(case: &Value) -> Env {
    let vars: HashMap<String, String> = case["env"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Env::from_map(vars)
}

fn build(case: &Value) -> aigw_core::Result<Client> {
    let profile = Profile::from_value(&case["profile"], "provider")?;
    Client::with_env(profile, env_of(case))
}

fn assert_contains(message: &str, case: &Value) {
    for needle in case["message_contains"].as_array().into_iter().flatten() {
        let needle = needle.as_str().unwrap();
        assert!(
            message.contains(needle),
            "{}: `{message}` lacks `{needle}`",
            case["name"]
        );
    }
    for secret in case["message_excludes"].as_array().into_iter().flatten() {
        let secret = secret.as_str().unwrap();
        assert!(
            !message.contains(secret),
            "{}: `{message}` shows `{secret}`",
            case["name"]
        );
    }
    if let Some(exact) = case["message"].as_str() {
        assert_eq!(message, exact, "{}", case["name"]);
    }
}

#[test]
fn kinds_resolve_as_the_vectors_say() {
    let v = vectors("routes.json");
    for case in v["kinds"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        match (resolve_kind(input), case["id"].as_str()) {
            (Ok(kind), Some(id)) => assert_eq!(kind.id, id, "{input}"),
            (Err(e), None) => {
                assert_eq!(e.code.as_str(), case["error"].as_str().unwrap(), "{input}");
                assert_contains(&e.message, case);
            }
            (other, want) => panic!("{input}: got {other:?}, want {want:?}"),
        }
    }
}

#[test]
fn routes_resolve_as_the_vectors_say() {
    let v = vectors("routes.json");
    for case in v["routes"].as_array().unwrap() {
        let name = &case["name"];
        match (build(case), case.get("expect")) {
            (Ok(client), Some(expect)) => {
                let route = &client.describe()["route"];
                for (field, want) in expect.as_object().unwrap() {
                    assert_eq!(&route[field], want, "{name}: route.{field}");
                }
            }
            (Err(e), None) => {
                assert_eq!(e.code.as_str(), case["error"].as_str().unwrap(), "{name}");
                assert_contains(&e.message, case);
                for secret in ["hunter2", "sk-pasted-by-mistake-123"] {
                    assert!(
                        !e.message.contains(secret),
                        "{name}: `{}` echoes a secret",
                        e.message
                    );
                }
            }
            (Ok(client), None) => panic!(
                "{name}: expected an error, got {:?}",
                client.describe()["route"]
            ),
            (Err(e), Some(_)) => panic!("{name}: unexpected error {e}"),
        }
    }
}

#[test]
fn credentials_resolve_as_the_vectors_say() {
    let v = vectors("credentials.json");
    for case in v["cases"].as_array().unwrap() {
        let name = &case["name"];
        let client = build(case).unwrap_or_else(|e| panic!("{name}: {e}"));
        match (client.credentials(), case.get("expect")) {
            (Ok(creds), Some(expect)) => {
                assert_eq!(
                    creds.source.label(),
                    expect["source"].as_str().unwrap(),
                    "{name}"
                );
                let keys: Vec<&str> = creds.keys.iter().map(|k| k.expose()).collect();
                let want: Vec<&str> = expect["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert_eq!(keys, want, "{name}");
                assert_eq!(
                    client.describe()["credentials"]["key_pool_size"],
                    expect["key_pool_size"],
                    "{name}"
                );
            }
            (Err(e), None) => {
                assert_eq!(e.code.as_str(), case["error"].as_str().unwrap(), "{name}");
                assert_contains(&e.message, case);
                assert_eq!(
                    client.describe()["credentials"]["status"],
                    "missing",
                    "{name}"
                );
            }
            (got, _) => panic!("{name}: unexpected {got:?}"),
        }
    }
}

#[test]
fn error_table_matches_the_code_enum() {
    let v = vectors("errors.json");
    let rows = v["codes"].as_array().unwrap();
    assert_eq!(rows.len(), ErrorCode::ALL.len());
    for (row, code) in rows.iter().zip(ErrorCode::ALL) {
        assert_eq!(row["code"].as_str().unwrap(), code.as_str());
        assert_eq!(row["status"].as_u64().unwrap(), u64::from(code.status()));
    }
    for row in v["http"].as_array().unwrap() {
        let code = ErrorCode::from_http_status(row["status"].as_u64().unwrap() as u16);
        assert_eq!(code.as_str(), row["code"].as_str().unwrap());
    }
}
