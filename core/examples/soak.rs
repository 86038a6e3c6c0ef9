//! Soak: one client, 16 threads, 20 000 requests (a quarter streamed) against the mock gateway
//! process with a random fault on 1 request in 20. Every request must end as a success or as the
//! typed error its fault implies; counts must add up; no thread may hang; RSS after the run must
//! stay within 10% of RSS after warm-up. Bounded to 5 minutes.
//!
//! Usage: soak MOCK_BINARY [REQUESTS] [THREADS]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aigw_core::{Client, Env, ErrorCode, Profile, RequestOptions};
use serde_json::json;

const KEY: &str = "soak-key";

/// A fault, and the error codes it may end in (empty: it must succeed).
const FAULTS: &[(&str, &[ErrorCode])] = &[
    ("status=500", &[ErrorCode::Provider]),
    ("status=503;tag=soak;times=1000000", &[ErrorCode::Provider]),
    ("status=429;retry_after_ms=10", &[ErrorCode::RateLimited]),
    ("status=400", &[ErrorCode::Provider]),
    ("status=401", &[ErrorCode::Auth]),
    (
        "reset_before_headers",
        &[ErrorCode::Connection, ErrorCode::Protocol],
    ),
    ("malformed_json", &[ErrorCode::Protocol]),
    ("delay_ms=1500", &[ErrorCode::Timeout]),
    (
        "stream:reset_after=2",
        &[ErrorCode::Connection, ErrorCode::Protocol],
    ),
    ("stream:truncate_after=2", &[ErrorCode::Protocol]),
    ("stream:sse_error_frame", &[ErrorCode::Provider]),
];

extern "C" {
    /// glibc: give freed heap pages back to the kernel, so RSS shows live memory rather than
    /// what the allocator keeps cached per thread arena.
    fn malloc_trim(pad: usize) -> i32;
}

fn rss_kib() -> u64 {
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe { malloc_trim(0) };
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Default)]
struct Tally {
    ok: usize,
    faults: usize,
    by_code: BTreeMap<&'static str, usize>,
    unexpected: Vec<String>,
}

/// One request; returns Err(description) when the outcome does not fit the fault.
fn one(client: &Client, fault: Option<(&str, &[ErrorCode])>, stream: bool, tally: &Mutex<Tally>) {
    let (spec, allowed) = fault.unwrap_or(("", &[]));
    let (stream, spec) = match spec.strip_prefix("stream:") {
        Some(rest) => (true, rest),
        None => (stream, spec),
    };
    let options = RequestOptions::from_value(&json!({ "headers": { "x-mock-fault": spec } }))
        .expect("options");
    let req = json!({ "messages": [{ "role": "user", "content": "soak" }] });
    let outcome: aigw_core::Result<()> = if stream {
        client.chat_stream(req, &options).and_then(|mut s| {
            let mut n = 0;
            while s.next_chunk()?.is_some() {
                n += 1;
            }
            if n == 0 {
                return Err(aigw_core::Error::protocol("empty stream"));
            }
            Ok(())
        })
    } else {
        client.chat(req, &options).map(|_| ())
    };
    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
    if fault.is_some() {
        t.faults += 1;
    }
    match outcome {
        Ok(()) if allowed.is_empty() => t.ok += 1,
        Ok(()) => t.unexpected.push(format!("fault `{spec}` succeeded")),
        Err(e) => {
            *t.by_code.entry(e.code.as_str()).or_default() += 1;
            if !allowed.contains(&e.code) {
                t.unexpected
                    .push(format!("fault `{spec}` (stream {stream}): {e}"));
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mock_bin = args
        .get(1)
        .expect("usage: soak MOCK_BINARY [REQUESTS] [THREADS]");
    let total: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let mut mock = Command::new(mock_bin)
        .args(["--api-key", KEY, "--lifetime-secs", "330"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mock gateway starts");
    let mut line = String::new();
    BufReader::new(mock.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line.trim().parse().expect("port");
    let profile = json!({
        "kind": "cloudflare",
        "base_url": format!("http://127.0.0.1:{port}/v1/0123456789abcdef0123456789abcdef/soak/openai/compat"),
        "model": "openai/gpt-4o-mini",
        "retry_max_attempts": 2, "retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 200,
        "request_timeout_ms": 1000, "stream_idle_timeout_ms": 2000,
    });
    let env = Env::from_map([("CLOUDFLARE_API_KEY".to_string(), KEY.to_string())].into());
    let client = Client::with_env(
        Profile::from_value(&profile, "provider").expect("profile"),
        env,
    )
    .expect("client");

    let run = |count: usize, seed: u64| -> (Tally, Duration) {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (client, tally, next) = (client.clone(), tally.clone(), next.clone());
                scope.spawn(move || {
                    let mut rng = Rng(seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        let r = rng.next();
                        let fault = r
                            .is_multiple_of(20)
                            .then(|| FAULTS[(r / 20) as usize % FAULTS.len()]);
                        one(&client, fault, r % 4 == 1, &tally);
                    }
                });
            }
            let watchdog = started + Duration::from_secs(300);
            while next.load(Ordering::Relaxed) < count + threads && Instant::now() < watchdog {
                std::thread::sleep(Duration::from_millis(100));
            }
            if Instant::now() >= watchdog {
                eprintln!("soak: FAIL: threads still running after 300 s (a hang)");
                std::process::exit(1);
            }
        });
        let tally = Arc::try_unwrap(tally)
            .ok()
            .expect("threads done")
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        (tally, started.elapsed())
    };

    // RSS is read with every thread's pooled connection idle and alive (a short fault-free
    // round first), so it does not swing with how many connections a fault happened to close.
    let settled_rss = || {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let client = client.clone();
                scope.spawn(move || {
                    for _ in 0..5 {
                        one(&client, None, false, &Mutex::new(Tally::default()));
                    }
                });
            }
        });
        rss_kib()
    };
    let (warm, _) = run(4_000, 1);
    let rss_warm = settled_rss();
    let (t, elapsed) = run(total, 2);
    let rss_after = settled_rss();
    let _ = mock.kill();
    let _ = mock.wait();

    let errors: usize = t.by_code.values().sum();
    let growth = (rss_after as f64 - rss_warm as f64) / rss_warm.max(1) as f64 * 100.0;
    println!("| figure | value |\n|---|---|");
    println!("| requests | {total} ({threads} threads, one client) |");
    println!(
        "| duration | {:.1} s ({:.0} req/s) |",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!("| faults injected | {} |", t.faults);
    println!("| successes | {} |", t.ok);
    for (code, n) in &t.by_code {
        println!("| errors {code} | {n} |");
    }
    println!("| accounted | {} of {total} |", t.ok + errors);
    println!("| RSS after warm-up | {rss_warm} KiB |");
    println!("| RSS after run | {rss_after} KiB ({growth:+.1}%) |");
    let mut failed = false;
    if !warm.unexpected.is_empty() || !t.unexpected.is_empty() {
        for u in warm.unexpected.iter().chain(&t.unexpected).take(20) {
            eprintln!("soak: unexpected outcome: {u}");
        }
        failed = true;
    }
    if t.ok + errors != total || errors != t.faults {
        eprintln!("soak: FAIL: counts do not add up");
        failed = true;
    }
    if growth > 10.0 {
        eprintln!("soak: FAIL: RSS grew {growth:.1}% after warm-up");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
    println!("\nsoak: {} passed, 0 failed", total);
}
