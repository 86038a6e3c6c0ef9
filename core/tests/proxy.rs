//! `HTTPS_PROXY` and `NO_PROXY` from the process environment are honoured. Its own test binary:
//! it sets process-wide variables. All traffic stays on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use aigw_core::{Client, Profile};
use serde_json::json;

#[test]
fn https_proxy_is_used_and_no_proxy_bypasses_it() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let (seen_tx, seen_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in proxy.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let _ = seen_tx.send(line.trim_end().to_string());
            let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = target.local_addr().unwrap().port();
    drop(target); // closed: a direct connection is refused

    std::env::set_var("HTTPS_PROXY", format!("http://127.0.0.1:{proxy_port}"));
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let make = || {
        let profile = json!({ "kind": "openai", "base_url": format!("https://localhost:{target_port}"), "api_key": "k",
                              "model": "m", "retry_max_attempts": 1 });
        Client::new(Profile::from_value(&profile, "provider").unwrap()).unwrap()
    };
    let e = make().list_models().unwrap_err();
    let line = seen_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the proxy was used");
    assert_eq!(
        line,
        format!("CONNECT localhost:{target_port} HTTP/1.1"),
        "{e}"
    );

    std::env::set_var("NO_PROXY", "localhost");
    let e = make().list_models().unwrap_err();
    assert_eq!(e.code, aigw_core::ErrorCode::Connection, "{e}");
    assert!(
        seen_rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "NO_PROXY bypassed the proxy"
    );

    // A proxy that refuses the connection is named as the one refusing, not the target.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    std::env::set_var(
        "HTTPS_PROXY",
        format!("http://user:proxy-pass-1234@127.0.0.1:{closed_port}"),
    );
    std::env::remove_var("NO_PROXY");
    let e = make().list_models().unwrap_err();
    assert_eq!(e.code, aigw_core::ErrorCode::Connection, "{e}");
    assert!(
        e.message
            .contains(&format!("proxy 127.0.0.1:{closed_port}")),
        "{}",
        e.message
    );
    assert!(!e.message.contains("proxy-pass-1234"), "{}", e.message);
    std::env::remove_var("HTTPS_PROXY");
    std::env::remove_var("NO_PROXY");
}
