//! Certificates are verified by default and `SSL_CERT_FILE` replaces the roots. A loopback TLS
//! server with a certificate from a test-only CA (tests/fixtures) stands in for a gateway.

use std::collections::HashMap;

use aigw_core::{Client, Env, ErrorCode, Profile};
use serde_json::json;

mod tls_support;
use tls_support::{fixture, tls_server};

fn client(port: u16, env: HashMap<&str, String>) -> aigw_core::Result<Client> {
    let profile = json!({ "kind": "cloudflare", "base_url": format!("https://127.0.0.1:{port}/v1/a/g/openai/compat"),
                          "api_key": "k", "retry_max_attempts": 1 });
    let env = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(env),
    )
}

#[test]
fn an_unknown_issuer_is_refused_by_default() {
    let port = tls_server(1);
    let e = client(port, HashMap::new())
        .unwrap()
        .list_models()
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Connection, "{e}");
    assert!(
        e.message.to_lowercase().contains("tls") || e.message.contains("certificate"),
        "{}",
        e.message
    );
}

#[test]
fn ssl_cert_file_supplies_the_roots() {
    let port = tls_server(1);
    let c = client(port, HashMap::from([("SSL_CERT_FILE", fixture("ca.pem"))])).unwrap();
    let models = c.list_models().expect("verified against the test CA");
    assert_eq!(models[0]["id"], "openai/gpt-4o");
}

#[test]
fn a_bad_ssl_cert_file_is_a_config_error() {
    let e = client(
        1,
        HashMap::from([("SSL_CERT_FILE", "/nonexistent/aigw-ca.pem".to_string())]),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Config);
    assert!(e.message.contains("/nonexistent/aigw-ca.pem"));
    let e = client(1, HashMap::from([("SSL_CERT_FILE", fixture("README.md"))])).unwrap_err();
    assert!(e.message.contains("no PEM certificate"), "{}", e.message);
}

#[test]
fn ssl_cert_dir_supplies_the_roots_too() {
    let port = tls_server(1);
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let c = client(port, HashMap::from([("SSL_CERT_DIR", dir)])).unwrap();
    let models = c
        .list_models()
        .expect("verified against the test CA in the directory");
    assert_eq!(models[0]["id"], "openai/gpt-4o");
}
