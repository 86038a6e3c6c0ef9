//! The mock's healthy behaviour: catalog, chat JSON and SSE, auth, validation, gateway headers,
//! keep-alive and the `/__mock/` control routes, checked over raw TCP.

mod common;

use std::time::Duration;

use aigw_mock::{MockConfig, MockGateway};
use common::{auth, chat, chat_body, Client, API_KEY, CHAT, MODELS};
use serde_json::{json, Value};

fn start() -> MockGateway {
    MockGateway::start(MockConfig {
        api_keys: vec![API_KEY.to_string()],
        lifetime: Duration::from_secs(60),
        ..MockConfig::default()
    })
    .unwrap()
}

#[test]
fn urls_point_at_loopback() {
    fn shareable<T: Send + Sync>() {}
    shareable::<MockGateway>();
    shareable::<MockConfig>();
    shareable::<aigw_mock::RecordedRequest>();
    let mock = start();
    assert_eq!(mock.url(), format!("http://127.0.0.1:{}", mock.port()));
    assert_eq!(
        mock.base_url("a1", "g1"),
        format!("http://127.0.0.1:{}/v1/a1/g1/openai/compat", mock.port())
    );
}

#[test]
fn models_list_has_the_catalog_shape() {
    let mock = start();
    let auth = auth();
    for path in [MODELS, "/v1/acct/gw/compat/models"] {
        let response =
            Client::connect(mock.port()).request("GET", path, &[("authorization", &auth)], b"");
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body = response.json();
        assert_eq!(body["object"], "list");
        let data = body["data"].as_array().unwrap();
        let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, MockConfig::default().models);
        for model in data {
            assert_eq!(model["object"], "model");
            assert!(model["created_at"].is_u64());
            assert!(model["cost_in"].is_number() && model["cost_out"].is_number());
        }
        assert_eq!(data[2]["owned_by"], "workers-ai");
    }
    assert_eq!(mock.count_path_suffix("/models"), 2);
}

#[test]
fn chat_echoes_the_last_user_message() {
    let mock = start();
    let response = chat(
        mock.port(),
        &chat_body("openai/gpt-4o", "hi there", false),
        None,
    );
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "openai/gpt-4o");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi there");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["total_tokens"].is_u64());

    let parts = json!({
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "part one, "},
            {"type": "image_url", "image_url": {"url": "data:,"}},
            {"type": "text", "text": "part two"},
        ]}],
    });
    let response = chat(mock.port(), parts.to_string().as_bytes(), None);
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "echo: part one, part two"
    );

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, CHAT);
    assert_eq!(
        recorded[0].header("Authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(recorded[1].json().unwrap()["model"], "openai/gpt-4o-mini");
    assert_eq!(mock.count_path_suffix("/chat/completions"), 2);
}

#[test]
fn stream_reassembles_to_the_answer_and_ends_with_done() {
    let mock = start();
    let response = chat(
        mock.port(),
        &chat_body("openai/gpt-4o", "streaming please", true),
        None,
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert!(response.complete);

    let data = response.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let events: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events.len(), 16, "long answers are capped at 16 chunks");
    assert_eq!(response.chunks.len(), 17, "one HTTP chunk per event");
    assert_eq!(events[0]["object"], "chat.completion.chunk");
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(events[..15]
        .iter()
        .all(|e| e["choices"][0]["finish_reason"].is_null()));
    assert_eq!(events[15]["choices"][0]["finish_reason"], "stop");
    assert_eq!(response.streamed_content(), "echo: streaming please");

    let short = chat(mock.port(), &chat_body("openai/gpt-4o", "", true), None);
    assert_eq!(
        short.sse_data().len(),
        6 + 1,
        "one chunk per char of `echo: `"
    );
}

#[test]
fn a_bad_key_gets_the_providers_401_and_a_bad_token_the_gateway_envelope() {
    let mock = start();
    let expected = json!({"error": {"message": "Incorrect API key provided",
        "type": "invalid_request_error", "code": "invalid_api_key"}});
    let body = chat_body("openai/gpt-4o", "hi", false);
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong-key")],
        vec![("authorization", "Basic dGVzdC1rZXk=")],
    ] {
        let response = Client::connect(mock.port()).request("POST", CHAT, &headers, &body);
        assert_eq!(response.status, 401);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.json(), expected);
        let models = Client::connect(mock.port()).request("GET", MODELS, &headers, b"");
        assert_eq!(models.status, 401);
        assert_eq!(models.json(), expected);
    }

    let any_key = MockGateway::start(MockConfig {
        gateway_token: Some("gw-token".into()),
        ..MockConfig::default()
    })
    .unwrap();
    let auth_header = ("authorization", "Bearer anything");
    let without = Client::connect(any_key.port()).request("GET", MODELS, &[auth_header], b"");
    assert_eq!(without.status, 401);
    assert_eq!(
        without.json(),
        json!({"success":false,"result":[],"messages":[],"error":[{"code":2009,"message":"Unauthorized"}]})
    );
    let with = Client::connect(any_key.port()).request(
        "GET",
        MODELS,
        &[auth_header, ("cf-aig-authorization", "Bearer gw-token")],
        b"",
    );
    assert_eq!(with.status, 200);
    assert_eq!(
        with.header("x-mock-echo-cf-aig-authorization"),
        None,
        "secrets are never echoed"
    );
}

#[test]
fn invalid_requests_get_gateway_errors() {
    let mock = start();
    let response = chat(mock.port(), &chat_body("gpt-4o", "hi", false), None);
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json(),
        json!({"success":false,"result":[],"messages":[],"error":[{"code":2008,"message":"Invalid provider"}]})
    );
    assert_eq!(
        chat(mock.port(), &chat_body("nope/gpt-4o", "hi", false), None).status,
        400
    );

    let missing = chat(mock.port(), &chat_body("openai/gpt-9", "hi", false), None);
    assert_eq!(missing.status, 404);
    let error = &missing.json()["error"];
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");
    assert_eq!(
        error["message"],
        "The model `openai/gpt-9` does not exist or you do not have access to it."
    );

    let not_json = chat(mock.port(), b"{\"model\":", None);
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.json()["error"]["code"], "invalid_json");
    assert_eq!(not_json.json()["error"]["type"], "invalid_request_error");

    let bad_fault = chat(
        mock.port(),
        &chat_body("openai/gpt-4o", "hi", false),
        Some("stauts=500"),
    );
    assert_eq!(bad_fault.status, 400);
    assert_eq!(bad_fault.json()["error"]["code"], "mock_bad_fault");
}

#[test]
fn gateway_headers_are_set_and_cf_aig_headers_echoed() {
    let mock = start();
    let auth = auth();
    let body = chat_body("openai/gpt-4o", "cache me", false);
    let send = |extra: &[(&'static str, &'static str)]| {
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        Client::connect(mock.port()).request("POST", CHAT, &headers, &body)
    };
    let first = send(&[
        ("cf-aig-cache-ttl", "300"),
        ("cf-aig-metadata", r#"{"a":1}"#),
    ]);
    assert_eq!(first.header("cf-aig-cache-status"), Some("MISS"));
    assert_eq!(first.header("cf-aig-step"), Some("0"));
    assert_eq!(first.header("x-mock-echo-cf-aig-cache-ttl"), Some("300"));
    assert_eq!(
        first.header("x-mock-echo-cf-aig-metadata"),
        Some(r#"{"a":1}"#)
    );
    assert!(first.header("x-request-id").unwrap().starts_with("req-"));

    let second = send(&[("cf-aig-cache-ttl", "300")]);
    assert_eq!(second.header("cf-aig-cache-status"), Some("HIT"));
    assert_ne!(
        first.header("cf-aig-log-id"),
        second.header("cf-aig-log-id")
    );
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
    let skipped = send(&[("cf-aig-cache-ttl", "300"), ("cf-aig-skip-cache", "true")]);
    assert_eq!(skipped.header("cf-aig-cache-status"), Some("MISS"));
    let no_ttl = send(&[]);
    assert_eq!(no_ttl.header("cf-aig-cache-status"), Some("MISS"));
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let mock = start();
    let auth = auth();
    let headers = [("authorization", auth.as_str())];
    {
        let mut client = Client::connect(mock.port());
        let body = chat_body("openai/gpt-4o-mini", "one", true);
        let first = client.request("POST", CHAT, &headers, &body);
        assert!(first.complete);
        assert_eq!(first.streamed_content(), "echo: one");
        let second = client.request("GET", MODELS, &headers, b"");
        assert_eq!(second.status, 200);
        let body = chat_body("openai/gpt-4o-mini", "three", false);
        let third = client.request("POST", CHAT, &headers, &body);
        assert_eq!(
            third.json()["choices"][0]["message"]["content"],
            "echo: three"
        );
        assert_eq!(mock.connections_opened(), 1);

        let closing = [("authorization", auth.as_str()), ("connection", "close")];
        let last = client.request("GET", MODELS, &closing, b"");
        assert_eq!(last.header("connection"), Some("close"));
        assert!(client.is_closed_by_peer());
    }
    assert_eq!(mock.requests().len(), 4);
    wait_for(|| mock.connections_closed() == 1);

    // A client going away is noticed too.
    drop(Client::connect(mock.port()));
    wait_for(|| mock.connections_opened() == 2 && mock.connections_closed() == 2);
}

#[test]
fn chunked_request_bodies_are_accepted_and_oversized_ones_refused() {
    let mock = start();
    let auth = auth();
    let body = chat_body("openai/gpt-4o", "chunked", false);
    let (a, b) = body.split_at(10);
    let mut wire = format!("{:x}\r\n", a.len()).into_bytes();
    wire.extend_from_slice(a);
    wire.extend_from_slice(format!("\r\n{:x};ext=1\r\n", b.len()).as_bytes());
    wire.extend_from_slice(b);
    wire.extend_from_slice(b"\r\n0\r\n\r\n");
    let headers = [
        ("authorization", auth.as_str()),
        ("transfer-encoding", "chunked"),
    ];
    let response = Client::connect(mock.port()).request("POST", CHAT, &headers, &wire);
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "echo: chunked"
    );

    let mut client = Client::connect(mock.port());
    let too_big = (9 * 1024 * 1024).to_string();
    client.send(
        "POST",
        CHAT,
        &[("authorization", &auth), ("content-length", &too_big)],
        b"",
    );
    let refused = client.read_response().unwrap();
    assert_eq!(refused.status, 413);
    assert!(client.is_closed_by_peer());

    let mut client = Client::connect(mock.port());
    client.send("GET", "/ bad request line", &[], b"");
    assert_eq!(client.read_response().unwrap().status, 400);
}

#[test]
fn control_routes_report_and_reset() {
    let mock = start();
    let _ = chat(
        mock.port(),
        &chat_body("openai/gpt-4o", "recorded", false),
        None,
    );
    let mut client = Client::connect(mock.port());

    let requests = client.request("GET", "/__mock/requests", &[], b"").json();
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["path"], CHAT);
    assert_eq!(requests[0]["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["messages"][1]["content"], "recorded");

    let stats = client.request("GET", "/__mock/stats", &[], b"").json();
    assert_eq!(stats["requests"], 1);
    assert_eq!(stats["connections_opened"], 2);

    let reset = client.request("POST", "/__mock/reset", &[], b"");
    assert_eq!(reset.status, 200);
    assert!(mock.requests().is_empty());
    let stats = client.request("GET", "/__mock/stats", &[], b"").json();
    assert_eq!(stats["requests"], 0);

    let unknown = client.request("GET", "/__mock/nope", &[], b"");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
    let elsewhere = client.request("GET", "/v1/acct/gw/openai/compat/audio/speech", &[], b"");
    assert_eq!(elsewhere.status, 404);
    assert_eq!(
        mock.requests().len(),
        1,
        "gateway 404s are recorded, control calls are not"
    );
}

#[test]
fn dropping_the_mock_closes_its_connections() {
    let mock = start();
    let port = mock.port();
    let mut idle = Client::connect(port);
    wait_for(|| mock.connections_opened() == 1);
    drop(mock);
    assert!(idle.is_closed_by_peer());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn lifetime_stops_the_mock() {
    let mock = MockGateway::start(MockConfig {
        lifetime: Duration::from_millis(300),
        ..MockConfig::default()
    })
    .unwrap();
    let mut idle = Client::connect(mock.port());
    assert!(idle.is_closed_by_peer());
    wait_for(|| std::net::TcpStream::connect(("127.0.0.1", mock.port())).is_err());
}

/// Polls a condition the server updates on its own threads; bounded to five seconds.
fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("condition not reached within 5 s");
}

/// Open descriptors of this process (Linux), or `None` where /proc is absent.
fn open_descriptors() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

#[test]
fn each_connection_holds_one_descriptor_in_the_mock() {
    let Some(before) = open_descriptors() else {
        return;
    };
    let mock = MockGateway::start(MockConfig::default()).unwrap();
    const N: usize = 200;
    let clients: Vec<std::net::TcpStream> = (0..N)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", mock.port())).unwrap())
        .collect();
    // Every connection accepted (a count, bounded in time).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while mock.connections_peak() < N && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(mock.connections_peak(), N);
    let during = open_descriptors().unwrap();
    // N client sockets + N accepted ones (+ the listener and a few for threads); a reader and
    // a writer clone per connection would add 2 N more.
    assert!(
        during - before <= 2 * N + 16,
        "{} descriptors for {N} connections",
        during - before
    );
    drop(clients);
}
