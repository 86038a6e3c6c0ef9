//! Micro-benchmarks: SSE decoding throughput over a recorded-style transcript (fed whole, in
//! 1 KiB pieces and byte by byte) and request building (profile → client → JSON body + headers).

use std::collections::VecDeque;
use std::time::Instant;

use aigw_core::sse::SseDecoder;

fn transcript() -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0..2000 {
        let chunk = serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "openai/gpt-4o-mini",
            "choices": [{ "index": 0, "delta": { "content": format!("token {i} héllo 🦀 ") }, "finish_reason": null }]
        });
        t.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
    }
    t.extend_from_slice(b"data: [DONE]\n\n");
    t
}

fn decode(t: &[u8], piece: usize) -> (f64, usize) {
    let rounds = if piece == 1 { 3 } else { 30 };
    let started = Instant::now();
    let mut events = 0;
    for _ in 0..rounds {
        let mut d = SseDecoder::new(1 << 24);
        let mut out = VecDeque::new();
        for p in t.chunks(piece) {
            d.feed(p, &mut out).expect("decode");
            events += out.len();
            out.clear();
        }
    }
    let mb = (t.len() * rounds) as f64 / 1e6;
    (mb / started.elapsed().as_secs_f64(), events / rounds)
}

fn main() {
    let t = transcript();
    for (label, piece) in [
        ("whole", t.len()),
        ("1 KiB pieces", 1024),
        ("1-byte pieces", 1),
    ] {
        let (mbps, events) = decode(&t, piece);
        println!(
            "{}",
            serde_json::json!({ "micro": format!("sse decode, {label}"), "mb_per_s": mbps, "events": events })
        );
    }
    let profile = aigw_core::Profile::from_value(
        &serde_json::json!({ "kind": "cloudflare", "account_id": "0123456789abcdef0123456789abcdef", "gateway_name": "gw", "api_key": "k", "model": "openai/gpt-4o-mini" }),
        "provider",
    )
    .expect("profile");
    let rounds = 2000;
    let started = Instant::now();
    for _ in 0..rounds {
        let c = aigw_core::Client::new(profile.clone()).expect("client");
        std::hint::black_box(c.describe());
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!(
        "{}",
        serde_json::json!({ "micro": "client build + describe", "us_per_op": per })
    );
    let body = serde_json::json!({ "model": "openai/gpt-4o-mini", "messages": [{ "role": "user", "content": "bench" }], "temperature": 0.2 });
    let started = Instant::now();
    for _ in 0..200_000 {
        std::hint::black_box(serde_json::to_vec(&body).expect("encode"));
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / 200_000.0;
    println!(
        "{}",
        serde_json::json!({ "micro": "request body encode", "us_per_op": per })
    );
}
