//! The default roots include the operating system's trust store. The OS store is read by
//! rustls-native-certs, which honours the process's `SSL_CERT_FILE` the way OpenSSL does: pointing
//! it at the test CA stands in for a corporate CA installed in the OS, while aigw's own
//! environment (an empty map) names no roots at all. Its own test binary: it sets process env.

use std::collections::HashMap;

use aigw_core::{Client, Env, Profile};
use serde_json::json;

mod tls_support;

#[test]
fn a_ca_in_the_os_store_is_trusted_with_no_setting() {
    let ca = format!("{}/tests/fixtures/ca.pem", env!("CARGO_MANIFEST_DIR"));
    std::env::set_var("SSL_CERT_FILE", ca);
    let port = tls_support::tls_server(1);
    let profile = json!({ "kind": "cloudflare", "base_url": format!("https://127.0.0.1:{port}/v1/a/g/openai/compat"),
                          "api_key": "k", "retry_max_attempts": 1 });
    let c = Client::with_env(
        Profile::from_value(&profile, "provider").unwrap(),
        Env::from_map(HashMap::new()),
    )
    .unwrap();
    let models = c
        .list_models()
        .expect("the OS store's CA verifies the server");
    assert_eq!(models[0]["id"], "openai/gpt-4o");
}
