//! A raw std-only HTTP/1.1 client for the mock's tests: it shows exactly what went over the wire
//! (chunk boundaries, early closes) where a real client library would hide it.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

pub const API_KEY: &str = "test-key";
pub const CHAT: &str = "/v1/acct/gw/openai/compat/chat/completions";
pub const MODELS: &str = "/v1/acct/gw/openai/compat/models";

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Body pieces as the HTTP chunks carried them (chunked responses only).
    pub chunks: Vec<Vec<u8>>,
    /// False when the connection ended before the body did.
    pub complete: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("response body is JSON")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `data:` payloads of an LF-framed SSE body.
    pub fn sse_data(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(String::from)
            .collect()
    }

    /// The streamed answer: the concatenated `delta.content` of every chunk event.
    pub fn streamed_content(&self) -> String {
        self.sse_data()
            .iter()
            .filter(|d| *d != "[DONE]")
            .map(|d| {
                let v: Value = serde_json::from_str(d).expect("SSE data is JSON");
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }
}

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to mock");
        // Bounds every read in the tests: a hung mock fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let framed = headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("transfer-encoding") || n.eq_ignore_ascii_case("content-length")
        });
        if !framed && (!body.is_empty() || method == "POST") {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        self.writer.flush().unwrap();
    }

    /// Reads one response; `None` when the connection closed before a status line.
    pub fn read_response(&mut self) -> Option<Response> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
            chunks: Vec::new(),
            complete: false,
        };
        if response.header("transfer-encoding") == Some("chunked") {
            self.read_chunked(&mut response);
        } else if let Some(length) = response.header("content-length") {
            let length: u64 = length.parse().ok()?;
            let _ = (&mut self.reader)
                .take(length)
                .read_to_end(&mut response.body);
            response.complete = response.body.len() as u64 == length;
        } else {
            response.complete = self.reader.read_to_end(&mut response.body).is_ok();
        }
        Some(response)
    }

    fn read_chunked(&mut self, response: &mut Response) {
        // Bounded by the read timeout and by the mock ending the body.
        loop {
            let mut size_line = String::new();
            if self.reader.read_line(&mut size_line).unwrap_or(0) == 0 {
                return;
            }
            let Ok(size) = u64::from_str_radix(size_line.trim(), 16) else {
                return;
            };
            if size == 0 {
                let mut end = String::new();
                let _ = self.reader.read_line(&mut end);
                response.complete = end == "\r\n";
                return;
            }
            let mut chunk = Vec::new();
            let _ = (&mut self.reader).take(size).read_to_end(&mut chunk);
            let whole = chunk.len() as u64 == size;
            response.body.extend_from_slice(&chunk);
            response.chunks.push(chunk);
            let mut crlf = String::new();
            if !whole || self.reader.read_line(&mut crlf).unwrap_or(0) == 0 {
                return;
            }
        }
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(method, path, headers, body);
        self.read_response().expect("a response")
    }

    /// True when the mock closed the connection (EOF) rather than leaving it open.
    pub fn is_closed_by_peer(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

pub fn auth() -> String {
    format!("Bearer {API_KEY}")
}

pub fn chat_body(model: &str, text: &str, stream: bool) -> Vec<u8> {
    serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": text},
        ],
        "stream": stream,
    })
    .to_string()
    .into_bytes()
}

/// One chat request on a fresh connection, with the given fault spec (if any).
pub fn chat(port: u16, body: &[u8], fault: Option<&str>) -> Response {
    let auth = auth();
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(fault) = fault {
        headers.push(("x-mock-fault", fault));
    }
    Client::connect(port).request("POST", CHAT, &headers, body)
}
