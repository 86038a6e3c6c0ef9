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
    // The C numbering: the non-error statuses, then every error code, in order.
    let numbering: Vec<(&str, u32)> = aigw_core::error::SUCCESS_STATUSES
        .into_iter()
        .chain(ErrorCode::ALL.iter().map(|c| (c.as_str(), c.status())))
        .collect();
    assert_eq!(rows.len(), numbering.len());
    for (row, (name, number)) in rows.iter().zip(numbering) {
        assert_eq!(row["code"].as_str().unwrap(), name);
        assert_eq!(row["status"].as_u64().unwrap(), u64::from(number));
    }
    for row in v["http"].as_array().unwrap() {
        let code = ErrorCode::from_http_status(row["status"].as_u64().unwrap() as u16);
        assert_eq!(code.as_str(), row["code"].as_str().unwrap());
    }
}

/// `value` with `{origin}` in every string replaced.
fn with_origin(value: &Value, origin: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{origin}", origin)),
        Value::Array(items) => Value::Array(items.iter().map(|v| with_origin(v, origin)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_origin(v, origin)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn mock_for(case: &Value) -> aigw_mock::MockGateway {
    let args = case["mock_args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.as_str().unwrap().to_string());
    let config = aigw_mock::MockConfig::from_args(args).expect("mock_args parse");
    aigw_mock::MockGateway::start(config).unwrap()
}

fn client_for_mock(case: &Value, m: &aigw_mock::MockGateway) -> Client {
    let profile = with_origin(&case["profile"], &m.url());
    Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case["name"]))
}

#[test]
fn gateway_options_send_the_documented_headers() {
    let v = vectors("gateway.json");
    for case in v["options"].as_array().unwrap() {
        let name = &case["name"];
        match (build(case), case["error"].as_str()) {
            (Ok(client), None) => {
                assert_eq!(
                    client.describe()["gateway_headers"],
                    case["expect_headers"],
                    "{name}"
                );
            }
            (Err(e), Some(code)) => {
                assert_eq!(e.code.as_str(), code, "{name}");
                assert_contains(&e.message, case);
            }
            (got, _) => panic!("{name}: unexpected {got:?}"),
        }
    }
}

#[test]
fn gateway_calls_behave_as_the_vectors_say() {
    let v = vectors("gateway.json");
    for case in v["calls"].as_array().unwrap() {
        let name = &case["name"];
        let m = mock_for(case);
        let client = client_for_mock(case, &m);
        let options = aigw_core::RequestOptions::from_value(&case["options"]).unwrap();
        let ask = serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }] });
        let result = client.chat(ask, &options);
        match (&result, case.get("error")) {
            (Err(e), Some(want)) => {
                assert_eq!(e.code.as_str(), want["code"], "{name}: {e}");
                if let Some(code) = want.get("provider_code") {
                    assert_eq!(e.provider_code.as_deref(), code.as_str(), "{name}");
                }
                if let Some(status) = want.get("http_status") {
                    assert_eq!(e.http_status.map(u64::from), status.as_u64(), "{name}");
                }
                assert_contains(&e.message, want);
                if let Some(keys) = want.get("key_indexes") {
                    let got: Vec<Value> = e.attempts.iter().map(|a| a.key_index.into()).collect();
                    assert_eq!(&Value::Array(got), keys, "{name}");
                }
            }
            (Ok(answer), None) => {
                let meta = &answer["aigw"];
                for (field, want) in case["expect_meta"].as_object().into_iter().flatten() {
                    let got = match field.as_str() {
                        "attempts_key_indexes" => meta["attempts"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a["key_index"].clone())
                            .collect(),
                        "attempts_statuses" => meta["attempts"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a["status"].clone())
                            .collect(),
                        _ => meta[field.as_str()].clone(),
                    };
                    assert_eq!(&got, want, "{name}: {field}");
                }
                for field in case["expect_meta_absent"].as_array().into_iter().flatten() {
                    let field = field.as_str().unwrap();
                    assert!(meta.get(field).is_none(), "{name}: {field} present");
                }
            }
            (got, _) => panic!("{name}: unexpected {got:?}"),
        }
        if let Some(sent) = case["sent_headers"].as_object() {
            let requests = m.requests();
            let last = requests.last().expect("a request reached the mock");
            for (header, want) in sent {
                assert_eq!(last.header(header), want.as_str(), "{name}: {header}");
            }
        }
        assert_eq!(
            m.count_path_suffix("/chat/completions") as u64,
            case["chat_requests"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn doctor_lints_and_probes_as_the_vectors_say() {
    let v = vectors("gateway.json");
    for case in v["doctor"].as_array().unwrap() {
        let name = &case["name"];
        let m = mock_for(case);
        let report = client_for_mock(case, &m).doctor();
        if let Some(status) = case.get("status") {
            assert_eq!(&report["status"], status, "{name}: {report:#}");
        }
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == case["check"])
            .unwrap_or_else(|| panic!("{name}: no check {}", case["check"]));
        assert_eq!(check["status"], case["check_status"], "{name}: {check:#}");
        let detail = check["detail"].as_str().unwrap();
        for part in case["detail_contains"].as_array().into_iter().flatten() {
            assert!(detail.contains(part.as_str().unwrap()), "{name}: {detail}");
        }
        for part in case["detail_excludes"].as_array().into_iter().flatten() {
            assert!(!detail.contains(part.as_str().unwrap()), "{name}: {detail}");
        }
    }
}

fn usage_client(m: &aigw_mock::MockGateway, extra: &Value) -> Client {
    let mut profile = serde_json::json!({ "kind": "cloudflare",
        "base_url": m.base_url("0123456789abcdef0123456789abcdef", "gw"),
        "api_key": "usage-vector-key" });
    for (k, v) in extra.as_object().into_iter().flatten() {
        profile[k] = v.clone();
    }
    Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap()
}

fn usage_fault(usage: &Value) -> aigw_core::RequestOptions {
    aigw_core::RequestOptions::from_value(
        &serde_json::json!({ "headers": { "x-mock-fault": format!("usage={usage}") } }),
    )
    .unwrap()
}

fn assert_cost(got: &Value, want: &Value, name: &Value) {
    if want.is_null() {
        assert!(got.is_null(), "{name}: {got}");
        return;
    }
    assert_eq!(got["source"], want["source"], "{name}");
    let (g, w) = (got["usd"].as_f64().unwrap(), want["usd"].as_f64().unwrap());
    assert!((g - w).abs() < 1e-9, "{name}: {g} vs {w}");
}

#[test]
fn usage_is_normalised_as_the_vectors_say_in_answers_and_streams() {
    let v = vectors("usage.json");
    let m = aigw_mock::MockGateway::start(aigw_mock::MockConfig::default()).unwrap();
    let c = usage_client(&m, &serde_json::json!({ "model": "openai/gpt-4o-mini" }));
    let ask = || serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }] });
    for case in v["normalisation"].as_array().unwrap() {
        let options = usage_fault(&case["usage"]);
        let answer = c.chat(ask(), &options).unwrap();
        assert_eq!(answer["aigw"]["usage"], case["expect"], "{}", case["name"]);
        let text: Value = serde_json::from_str(&c.chat_text(ask(), &options).unwrap()).unwrap();
        assert_eq!(
            text["aigw"]["usage"], case["expect"],
            "{} (text)",
            case["name"]
        );
        let mut stream = c.chat_stream(ask(), &options).unwrap();
        let mut last = Value::Null;
        while let Some(chunk) = stream.next_chunk().unwrap() {
            last = chunk.value;
        }
        assert_eq!(
            last["choices"],
            serde_json::json!([]),
            "the usage chunk is yielded"
        );
        assert_eq!(
            stream.meta()["usage"],
            case["expect"],
            "{} (stream)",
            case["name"]
        );
    }
}

#[test]
fn cost_comes_from_the_profile_or_the_catalog_as_the_vectors_say() {
    let v = vectors("usage.json");
    let m = aigw_mock::MockGateway::start(aigw_mock::MockConfig::default()).unwrap();
    for case in v["cost"].as_array().unwrap() {
        let c = usage_client(&m, &case["profile"]);
        let ask = serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }] });
        let answer = c.chat(ask, &usage_fault(&case["usage"])).unwrap();
        assert_cost(&answer["aigw"]["cost"], &case["expect"], &case["name"]);
    }
}

fn protocol_client(v: &Value, kind: &str, m: &aigw_mock::MockGateway) -> Client {
    protocol_client_with(v, kind, m, &Value::Null)
}

/// The client of `profiles[kind]` with the fields of `overrides` laid over it.
fn protocol_client_with(
    v: &Value,
    kind: &str,
    m: &aigw_mock::MockGateway,
    overrides: &Value,
) -> Client {
    let mut profile = with_origin(&v["profiles"][kind], &m.url());
    for (field, value) in overrides.as_object().into_iter().flatten() {
        profile[field] = value.clone();
    }
    Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap()
}

/// The `status` of each attempt of an `attempts` list (answer metadata, stream meta, error).
fn attempt_statuses(attempts: &Value) -> Value {
    attempts
        .as_array()
        .map(|list| list.iter().map(|a| a["status"].clone()).collect())
        .unwrap_or(Value::Null)
}

/// Text, tool name and arguments, finish reason, usage and attempt statuses of an answer or a
/// whole stream.
fn protocol_outcome(c: &Client, fault: &str, stream: bool) -> aigw_core::Result<Value> {
    let ask = serde_json::json!({ "messages": [{ "role": "user", "content": "hi" }] });
    let options = aigw_core::RequestOptions::from_value(
        &serde_json::json!({ "headers": { "x-mock-fault": fault } }),
    )
    .unwrap();
    if !stream {
        let a = c.chat(ask, &options)?;
        let message = &a["choices"][0]["message"];
        return Ok(serde_json::json!({ "content": message["content"],
            "tool_name": message["tool_calls"][0]["function"]["name"],
            "tool_arguments": message["tool_calls"][0]["function"]["arguments"],
            "finish_reason": a["choices"][0]["finish_reason"], "usage": a["aigw"]["usage"],
            "attempts_statuses": attempt_statuses(&a["aigw"]["attempts"]) }));
    }
    let mut s = c.chat_stream(ask, &options)?;
    let (mut text, mut name, mut args, mut finish) =
        (String::new(), Value::Null, String::new(), Value::Null);
    while let Some(chunk) = s.next_chunk()? {
        let choice = &chunk.value["choices"][0];
        text.push_str(choice["delta"]["content"].as_str().unwrap_or(""));
        let call = &choice["delta"]["tool_calls"][0]["function"];
        if call["name"].is_string() {
            name = call["name"].clone();
        }
        args.push_str(call["arguments"].as_str().unwrap_or(""));
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
    }
    Ok(
        serde_json::json!({ "content": if text.is_empty() { Value::Null } else { Value::String(text) },
        "tool_name": name, "tool_arguments": if args.is_empty() { Value::Null } else { Value::String(args) },
        "finish_reason": finish, "usage": s.meta()["usage"],
        "attempts_statuses": attempt_statuses(&s.meta()["attempts"]) }),
    )
}

#[test]
fn protocols_translate_as_the_vectors_say() {
    let v = vectors("protocols.json");
    let m = aigw_mock::MockGateway::start(aigw_mock::MockConfig::default()).unwrap();
    for case in v["requests"].as_array().unwrap() {
        let c = protocol_client(&v, case["kind"].as_str().unwrap(), &m);
        c.chat(
            case["request"].clone(),
            &aigw_core::RequestOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        let sent = m.requests().last().unwrap().json().unwrap();
        assert_eq!(sent, case["upstream"], "{}", case["name"]);
    }
    for case in v["answers"].as_array().unwrap() {
        let c = protocol_client(&v, case["kind"].as_str().unwrap(), &m);
        let got = protocol_outcome(&c, case["fault"].as_str().unwrap(), case["stream"] == true)
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        for (field, want) in case["expect"].as_object().unwrap() {
            assert_eq!(&got[field], want, "{}: {field}", case["name"]);
        }
    }
    for case in v["errors"].as_array().unwrap() {
        let c = protocol_client(&v, case["kind"].as_str().unwrap(), &m);
        let e = protocol_outcome(&c, case["fault"].as_str().unwrap(), case["stream"] == true)
            .expect_err(case["name"].as_str().unwrap());
        assert_eq!(e.code.as_str(), case["code"], "{}: {e}", case["name"]);
        if let Some(code) = case["provider_code"].as_str() {
            assert_eq!(e.provider_code.as_deref(), Some(code), "{}", case["name"]);
        }
        assert_contains(&e.message, case);
    }
}

#[test]
fn protocol_retries_behave_as_the_vectors_say() {
    let v = vectors("protocols.json");
    let m = aigw_mock::MockGateway::start(aigw_mock::MockConfig::default()).unwrap();
    let cases = v["retries"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = &case["name"];
        // Recorded requests and per-tag fault counters start empty for each case.
        m.reset();
        let c = protocol_client_with(&v, case["kind"].as_str().unwrap(), &m, &v["retry_profile"]);
        let outcome = protocol_outcome(&c, case["fault"].as_str().unwrap(), case["stream"] == true);
        match (outcome, case.get("error")) {
            (Ok(got), None) => {
                for (field, want) in case["expect"].as_object().unwrap() {
                    assert_eq!(&got[field], want, "{name}: {field}");
                }
            }
            (Err(e), Some(want)) => {
                assert_eq!(e.code.as_str(), want["code"], "{name}: {e}");
                assert_eq!(
                    e.provider_code.as_deref(),
                    want["provider_code"].as_str(),
                    "{name}"
                );
                assert_eq!(
                    e.http_status.map(u64::from),
                    want["http_status"].as_u64(),
                    "{name}"
                );
                let got: Vec<Value> = e.attempts.iter().map(|a| a.status.into()).collect();
                assert_eq!(
                    Value::Array(got),
                    want["attempts_statuses"],
                    "{name}: attempts"
                );
            }
            (got, _) => panic!("{name}: unexpected {got:?}"),
        }
        assert_eq!(
            m.requests().len() as u64,
            case["requests"].as_u64().unwrap(),
            "{name}: requests the mock received"
        );
    }
}
