//! aigw-core used directly from Rust: the same workload as the floor. With
//! `AIGW_BENCH_PROTOCOL=anthropic` the client is of kind `anthropic` against the mock's Messages
//! surface, so the translated path's cost per request and per stream event can be compared with
//! the OpenAI path's in the same run.

use aigw_bench::{first_chunk, run, Workload};
use aigw_core::{Client, Env, Profile, RequestOptions};
use serde_json::json;

fn main() {
    let w = Workload::from_args();
    let anthropic = std::env::var("AIGW_BENCH_PROTOCOL").is_ok_and(|p| p == "anthropic");
    let profile = if anthropic {
        json!({ "kind": "anthropic", "base_url": format!("http://127.0.0.1:{}", w.port),
            "model": "claude-sonnet-4-5" })
    } else {
        json!({
            "kind": "cloudflare",
            "base_url": format!("http://127.0.0.1:{}/v1/0123456789abcdef0123456789abcdef/bench/openai/compat", w.port),
            "model": "openai/gpt-4o-mini",
        })
    };
    let env = Env::from_map(
        [
            ("CLOUDFLARE_API_KEY".to_string(), "bench-key".to_string()),
            ("ANTHROPIC_API_KEY".to_string(), "bench-key".to_string()),
        ]
        .into(),
    );
    let client = Client::with_env(
        Profile::from_value(&profile, "provider").expect("profile"),
        env,
    )
    .expect("client");
    let none = RequestOptions::default();
    let stream_opts =
        RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": w.stream_fault() } }))
            .expect("options");
    let chat = |c: &Client| {
        let r = c
            .chat(
                json!({ "messages": [{ "role": "user", "content": "bench" }] }),
                &none,
            )
            .expect("chat");
        assert!(r["choices"].is_array());
    };
    let stream = || {
        let mut s = client
            .chat_stream(
                json!({ "messages": [{ "role": "user", "content": "bench" }] }),
                &stream_opts,
            )
            .expect("stream");
        let mut n = 0;
        while s.next_chunk().expect("chunk").is_some() {
            if n == 0 {
                first_chunk();
            }
            n += 1;
        }
        n
    };
    run(
        if anthropic {
            "aigw (Rust core, Anthropic Messages)"
        } else {
            "aigw (Rust core)"
        },
        w,
        || chat(&client),
        stream,
        |n| {
            for _ in 0..n {
                chat(&client);
            }
        },
    );
}
