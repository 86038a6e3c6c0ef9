//! Shared pieces of the benchmark clients: the workload parameters, CPU and RSS readings, and
//! the one-line JSON report every client (Rust, C, Python, Node) prints for `bench/run.py`.

use std::cell::RefCell;
use std::time::Instant;

/// Workload sizes, from argv: `PORT K S N T`.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Mock gateway port on 127.0.0.1.
    pub port: u16,
    /// Sequential non-streaming requests.
    pub k: usize,
    /// Streams.
    pub s: usize,
    /// Chunks per stream.
    pub n: usize,
    /// Concurrent threads (250 requests each... see `per_thread`).
    pub t: usize,
}

impl Workload {
    /// Parses `PORT K S N T` (after the program name).
    pub fn from_args() -> Workload {
        let a: Vec<usize> = std::env::args()
            .skip(1)
            .map(|s| s.parse().unwrap_or(0))
            .collect();
        let get = |i: usize, d: usize| a.get(i).copied().filter(|v| *v > 0).unwrap_or(d);
        Workload {
            port: get(0, 0) as u16,
            k: get(1, 2000),
            s: get(2, 200),
            n: get(3, 64),
            t: get(4, 8),
        }
    }

    /// Requests per thread in the concurrent phase.
    pub fn per_thread(&self) -> usize {
        (self.k / self.t.max(1)).max(1)
    }

    /// The chat URL of the mock.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/0123456789abcdef0123456789abcdef/bench/openai/compat/chat/completions", self.port)
    }

    /// The fault header that makes the mock stream `n` chunks.
    pub fn stream_fault(&self) -> String {
        format!("chunks={};content_len={}", self.n, self.n * 4)
    }
}

/// User + system CPU time of this process, in microseconds.
pub fn cpu_us() -> f64 {
    let mut usage = std::mem::MaybeUninit::<Rusage>::uninit();
    // SAFETY: getrusage writes a complete struct rusage into the pointer on success.
    let rc = unsafe { getrusage(0, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: rc == 0, so the struct was written.
    let u = unsafe { usage.assume_init() };
    (u.utime_sec * 1_000_000 + u.utime_usec + u.stime_sec * 1_000_000 + u.stime_usec) as f64
}

/// Peak resident set size of this process, KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[repr(C)]
struct Rusage {
    utime_sec: i64,
    utime_usec: i64,
    stime_sec: i64,
    stime_usec: i64,
    rest: [i64; 14],
}

extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

/// Median of microsecond samples.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

thread_local! {
    /// Start of the stream being measured, and the time-to-first-chunk samples (µs).
    static FIRST: RefCell<(Option<Instant>, Vec<f64>)> = const { RefCell::new((None, Vec::new())) };
}

/// Called by a stream closure on every chunk: the first call after the stream started records
/// its time to first chunk (request sent, headers and first event received and parsed).
pub fn first_chunk() {
    FIRST.with(|f| {
        let mut f = f.borrow_mut();
        if let Some(t) = f.0.take() {
            f.1.push(t.elapsed().as_secs_f64() * 1e6);
        }
    });
}

fn stream_started() {
    FIRST.with(|f| f.borrow_mut().0 = Some(Instant::now()));
}

/// Runs the three phases with the given closures and prints the JSON report line.
pub fn run(
    name: &str,
    w: Workload,
    mut chat: impl FnMut(),
    mut stream: impl FnMut() -> usize,
    concurrent: impl Fn(usize) + Sync,
) {
    for _ in 0..100 {
        chat();
    }
    let mut lat = Vec::with_capacity(w.k);
    let cpu0 = cpu_us();
    for _ in 0..w.k {
        let t = Instant::now();
        chat();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let cpu_req = (cpu_us() - cpu0) / w.k as f64;
    let cpu1 = cpu_us();
    let mut events = 0usize;
    for _ in 0..w.s {
        stream_started();
        events += stream();
    }
    let cpu_event = (cpu_us() - cpu1) / events.max(1) as f64;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..w.t {
            scope.spawn(|| concurrent(w.per_thread()));
        }
    });
    let rps = (w.per_thread() * w.t) as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "client": name,
            "latency_us_median": median(lat),
            "ttfc_us_median": median(FIRST.with(|f| std::mem::take(&mut f.borrow_mut().1))),
            "cpu_us_per_req": cpu_req,
            "cpu_us_per_event": cpu_event,
            "events": events,
            "concurrent_rps": rps,
            "peak_rss_kib": peak_rss_kib(),
        })
    );
}
