//! The floor: a plain ureq + serde_json loop doing the same work as a client must (serialize the
//! request, send it on a keep-alive agent, parse the JSON answer; for streams, split SSE lines and
//! parse each event). aigw's costs are reported as ratios to this, measured in the same run.

use std::io::{BufRead, BufReader};

use aigw_bench::{first_chunk, run, Workload};
use serde_json::{json, Value};

fn main() {
    let w = Workload::from_args();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections_per_host(64)
        .build()
        .new_agent();
    let url = w.url();
    let fault = w.stream_fault();
    let chat = |agent: &ureq::Agent| {
        let body = json!({ "model": "openai/gpt-4o-mini", "messages": [{ "role": "user", "content": "bench" }] });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = agent
            .post(&url)
            .header("Authorization", "Bearer bench-key")
            .header("Content-Type", "application/json")
            .send(&bytes[..])
            .expect("chat");
        let v: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap_or_default())
            .expect("json");
        assert!(v["choices"].is_array());
    };
    let stream = || {
        let body = json!({ "model": "openai/gpt-4o-mini", "stream": true, "messages": [{ "role": "user", "content": "bench" }] });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let resp = agent
            .post(&url)
            .header("Authorization", "Bearer bench-key")
            .header("Content-Type", "application/json")
            .header("x-mock-fault", &fault)
            .send(&bytes[..])
            .expect("stream");
        let mut events = 0;
        for line in BufReader::new(resp.into_body().into_reader()).lines() {
            let line = line.expect("line");
            if let Some(data) = line.strip_prefix("data: ") {
                if data == "[DONE]" {
                    break;
                }
                let v: Value = serde_json::from_str(data).expect("event json");
                assert!(v["choices"].is_array());
                if events == 0 {
                    first_chunk();
                }
                events += 1;
            }
        }
        events
    };
    run(
        "rust floor (ureq + serde_json)",
        w,
        || chat(&agent),
        stream,
        |n| {
            for _ in 0..n {
                chat(&agent);
            }
        },
    );
}
