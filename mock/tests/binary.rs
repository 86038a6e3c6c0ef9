//! The `aigw-mock-gateway` binary as other languages' tests use it: port on stdout and in the
//! port file, flags applied, exit 0 when the lifetime ends.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, MODELS};

#[test]
fn binary_prints_its_port_serves_and_exits() {
    let port_file = std::env::temp_dir().join(format!("aigw-mock-port-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_aigw-mock-gateway"))
        .args([
            "--api-key",
            "k1",
            "--api-key",
            "k2",
            "--models",
            "openai/gpt-4o, groq/llama",
        ])
        .args(["--lifetime-secs", "2", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim_end().parse().unwrap();
    assert_eq!(line, format!("{port}\n"));
    let from_file = std::fs::read_to_string(&port_file).unwrap();
    assert_eq!(from_file.trim(), port.to_string());
    let _ = std::fs::remove_file(&port_file);

    let mut client = Client::connect(port);
    let listed = client.request("GET", MODELS, &[("authorization", "Bearer k2")], b"");
    assert_eq!(listed.status, 200);
    let ids: Vec<String> = listed.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["openai/gpt-4o", "groq/llama"]);
    let refused = client.request("GET", MODELS, &[("authorization", "Bearer k3")], b"");
    assert_eq!(refused.status, 401);
    drop(client);

    // Bounded wait for the lifetime to end the process.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mock binary outlived its lifetime");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

#[test]
fn binary_rejects_unknown_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_aigw-mock-gateway"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}
