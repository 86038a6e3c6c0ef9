//! Certificates are verified by default and `SSL_CERT_FILE` replaces the roots. A loopback TLS
//! server with a certificate from a test-only CA (tests/fixtures) stands in for a gateway.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use aigw_core::{Client, Env, ErrorCode, Profile};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Serves `connections` TLS connections on 127.0.0.1, answering each with a models list.
fn tls_server(connections: usize) -> u16 {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture("localhost.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut tcp) = stream else { continue };
            let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if head.ends_with(b"\r\n\r\n") {
                let body = r#"{"data":[{"id":"openai/gpt-4o"}]}"#;
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
            }
        }
    });
    port
}

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
