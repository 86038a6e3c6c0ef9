//! A mock Cloudflare AI Gateway (docs/contract.md §11) on plain HTTP/1.1 over loopback, built on std only,
//! so every language's test suite can exercise aigw end to end — including scripted failures —
//! without network access. [`MockGateway::start`] runs it in-process; the `aigw-mock-gateway`
//! binary serves the same thing to Python/Node/C tests.

#![warn(missing_docs)]

mod anthropic;
mod bedrock;
mod fault;
mod http;
mod routes;
mod stream;

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How the mock behaves. `Default` gives the catalog tests expect and accepts any bearer key.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Accepted `Authorization: Bearer` keys; empty accepts any non-empty key.
    pub api_keys: Vec<String>,
    /// When set, requests must carry `cf-aig-authorization: Bearer <token>` (an authenticated
    /// gateway).
    pub gateway_token: Option<String>,
    /// Catalog ids served by `models` and accepted by `chat/completions`.
    pub models: Vec<String>,
    /// Answer the seed template's `…/openai/compat/…` paths with 404, as Cloudflare (which
    /// documents only `…/compat` and `…/openai`) may; other unknown paths get the gateway's
    /// envelope too.
    pub strict_paths: bool,
    /// After this the mock stops accepting and closes its connections, so a forgotten mock
    /// cannot outlive its test run by much.
    pub lifetime: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            api_keys: Vec::new(),
            gateway_token: None,
            models: [
                "openai/gpt-4o-mini",
                "openai/gpt-4o",
                "workers-ai/@cf/meta/llama-3.1-8b-instruct",
            ]
            .map(String::from)
            .to_vec(),
            strict_paths: false,
            lifetime: Duration::from_secs(600),
        }
    }
}

/// The flags [`MockConfig::from_args`] reads (the binary adds `--port-file PATH`).
pub const USAGE: &str = "usage: aigw-mock-gateway [--api-key K]... [--gateway-token T] \
[--models a,b,c] [--strict-paths] [--lifetime-secs N]";

impl MockConfig {
    /// The configuration the command-line flags describe, over [`MockConfig::default`]; shared
    /// by the binary and by tests that replay vectors naming those flags.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<MockConfig, String> {
        let mut config = MockConfig::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_string());
            }
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--api-key" => config.api_keys.push(value()?),
                "--gateway-token" => config.gateway_token = Some(value()?),
                "--strict-paths" => config.strict_paths = true,
                "--models" => {
                    config.models = value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(String::from)
                        .collect();
                }
                "--lifetime-secs" => {
                    let secs = value()?;
                    let secs = secs.parse::<u64>().map_err(|_| {
                        format!("--lifetime-secs needs whole seconds, got `{secs}`")
                    })?;
                    config.lifetime = Duration::from_secs(secs);
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(config)
    }
}

/// One request as the mock received it (control requests under `/__mock/` are not recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent, query string included.
    pub path: String,
    /// Header names lowercased, in arrival order; values as sent (secrets included, so tests can
    /// check which key was used).
    pub headers: Vec<(String, String)>,
    /// The request body (de-chunked).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        http::find_header(&self.headers, name)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A running mock gateway on `127.0.0.1:<port>`. Dropping it stops the accept loop and closes
/// every open connection.
pub struct MockGateway {
    state: Arc<State>,
    port: u16,
    accept_thread: Option<JoinHandle<()>>,
    lifetime_thread: Option<JoinHandle<()>>,
    /// Set (and notified) by `Drop` to end the lifetime timer early.
    dropped: Arc<(Mutex<bool>, Condvar)>,
}

impl MockGateway {
    /// Binds `127.0.0.1:0` and starts serving on background threads.
    pub fn start(config: MockConfig) -> std::io::Result<MockGateway> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        widen_backlog(&listener);
        let port = listener.local_addr()?.port();
        let lifetime = config.lifetime;
        let state = Arc::new(State::new(config, port));

        let accept_state = Arc::clone(&state);
        let accept_thread = thread::Builder::new()
            .name("aigw-mock-accept".into())
            .spawn(move || accept_loop(&accept_state, &listener))?;

        let dropped = Arc::new((Mutex::new(false), Condvar::new()));
        let timer_state = Arc::clone(&state);
        let timer_dropped = Arc::clone(&dropped);
        let lifetime_thread = thread::Builder::new()
            .name("aigw-mock-lifetime".into())
            .spawn(move || {
                if !wait_until_dropped(&timer_dropped, lifetime) {
                    timer_state.stop();
                }
            });
        let lifetime_thread = match lifetime_thread {
            Ok(handle) => handle,
            Err(e) => {
                state.stop();
                let _ = accept_thread.join();
                return Err(e);
            }
        };

        Ok(MockGateway {
            state,
            port,
            accept_thread: Some(accept_thread),
            lifetime_thread: Some(lifetime_thread),
            dropped,
        })
    }

    /// The port on 127.0.0.1 the OS chose.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The OpenAI-compatible base URL for an account and gateway, as aigw builds it.
    pub fn base_url(&self, account: &str, gateway: &str) -> String {
        format!("{}/v1/{account}/{gateway}/openai/compat", self.url())
    }

    /// Every request received so far, oldest first (not the `/__mock/` control ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// How many recorded requests have a path (query string ignored) ending with `suffix`.
    pub fn count_path_suffix(&self, suffix: &str) -> usize {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path.split('?').next().unwrap_or("").ends_with(suffix))
            .count()
    }

    /// Connections accepted so far.
    pub fn connections_opened(&self) -> usize {
        self.state.connections_opened.load(Ordering::SeqCst)
    }

    /// Connections whose end the mock has seen (peer EOF, socket error, or the mock closing it).
    pub fn connections_closed(&self) -> usize {
        self.state.connections_closed.load(Ordering::SeqCst)
    }

    /// Waits until more than `seen` connections were closed, or `within` passed; returns the
    /// count then. The mock counts a close when it next reads or writes on the connection (after
    /// any stall it was told to make), so a test that closed one waits here rather than sleeps.
    pub fn wait_closed_beyond(&self, seen: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        while self.connections_closed() <= seen && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        self.connections_closed()
    }

    /// The most connections that were open at once since start or the last reset: proof that
    /// requests ran concurrently, as a count rather than a timing.
    pub fn connections_peak(&self) -> usize {
        self.state.connections_peak.load(Ordering::SeqCst)
    }

    /// Forgets recorded requests, per-tag fault counters and the cache of seen bodies, and
    /// restarts the connection peak.
    pub fn reset(&self) {
        self.state.reset();
    }
}

impl Drop for MockGateway {
    fn drop(&mut self) {
        {
            let (flag, signal) = &*self.dropped;
            *lock(flag) = true;
            signal.notify_all();
        }
        if let Some(handle) = self.lifetime_thread.take() {
            let _ = handle.join();
        }
        self.state.stop();
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

/// Waits for `lifetime` or until `Drop` signals; returns true when dropped first.
fn wait_until_dropped(dropped: &(Mutex<bool>, Condvar), lifetime: Duration) -> bool {
    let (flag, signal) = dropped;
    let deadline = Instant::now().checked_add(lifetime);
    let mut is_dropped = lock(flag);
    // Each pass either returns or waits; spurious wakeups just wait again until the deadline.
    while !*is_dropped {
        match deadline {
            None => {
                is_dropped = signal
                    .wait(is_dropped)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                is_dropped = signal
                    .wait_timeout(is_dropped, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
    }
    true
}

/// A poisoned lock only means another connection thread panicked; the data is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the connection threads share.
pub(crate) struct State {
    pub config: MockConfig,
    port: u16,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub tag_counts: Mutex<HashMap<String, u64>>,
    pub seen_bodies: Mutex<HashSet<u64>>,
    pub connections_opened: AtomicUsize,
    pub connections_closed: AtomicUsize,
    /// The most connections open at once since start (or the last reset).
    pub connections_peak: AtomicUsize,
    pub next_request_number: AtomicU64,
    stopping: AtomicBool,
    /// Clones of open connections, so stopping can shut them down and unblock their threads.
    live: Mutex<HashMap<u64, Arc<TcpStream>>>,
}

impl State {
    fn new(config: MockConfig, port: u16) -> State {
        State {
            config,
            port,
            requests: Mutex::new(Vec::new()),
            tag_counts: Mutex::new(HashMap::new()),
            seen_bodies: Mutex::new(HashSet::new()),
            connections_opened: AtomicUsize::new(0),
            connections_closed: AtomicUsize::new(0),
            connections_peak: AtomicUsize::new(0),
            next_request_number: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            live: Mutex::new(HashMap::new()),
        }
    }

    pub fn reset(&self) {
        lock(&self.requests).clear();
        lock(&self.tag_counts).clear();
        lock(&self.seen_bodies).clear();
        // The peak starts again from the connections open now.
        let live = lock(&self.live).len();
        self.connections_peak.store(live, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops accepting and closes open connections; later calls do nothing.
    fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // The accept loop is blocked in accept(); a throwaway connection wakes it to see the flag.
        let wake_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let _ = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(1));
        for stream in lock(&self.live).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Handshakes the kernel may queue before `accept`: std listens with 128, and a thousand clients
/// connecting at once overflow that and lose handshakes to a 1 s SYN retransmit. The kernel caps
/// it at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 8192;

#[cfg(unix)]
fn widen_backlog(listener: &TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is `listener`'s, open for the whole call; listen(2) on a socket
    // that listens already only changes its backlog, and a failure leaves std's 128 in place.
    unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) };
}

#[cfg(not(unix))]
fn widen_backlog(_listener: &TcpListener) {}

fn accept_loop(state: &Arc<State>, listener: &TcpListener) {
    let mut next_connection_id: u64 = 0;
    // Ends when `stop` sets the flag; each pass handles one accept result.
    while !state.is_stopping() {
        let stream = match listener.accept() {
            Ok((stream, _)) => Arc::new(stream),
            Err(_) => {
                // e.g. out of file descriptors: back off instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        next_connection_id += 1;
        let id = next_connection_id;
        {
            // Checked under the same lock `stop` takes, so no connection slips past a shutdown.
            let mut live = lock(&state.live);
            if state.is_stopping() {
                break;
            }
            live.insert(id, Arc::clone(&stream));
            state
                .connections_peak
                .fetch_max(live.len(), Ordering::SeqCst);
        }
        state.connections_opened.fetch_add(1, Ordering::SeqCst);
        let conn_state = Arc::clone(state);
        let spawned = thread::Builder::new()
            .name("aigw-mock-conn".into())
            // Small stacks: load tests hold thousands of connections open at once.
            .stack_size(256 * 1024)
            .spawn(move || {
                serve_connection(&conn_state, stream);
                lock(&conn_state.live).remove(&id);
                conn_state.connections_closed.fetch_add(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            lock(&state.live).remove(&id);
            state.connections_closed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn serve_connection(state: &State, stream: Arc<TcpStream>) {
    // Streams are written event by event; Nagle would glue the events together.
    let _ = stream.set_nodelay(true);
    let mut conn = http::Conn {
        reader: BufReader::new(http::Wire(Arc::clone(&stream))),
        writer: http::Wire(stream),
    };
    // One request per pass; ends when the peer closes, a fault or error closes, or we stop.
    while !state.is_stopping() {
        let next = match http::read_request(&mut conn) {
            http::ReadOutcome::Closed => routes::Next::Close,
            http::ReadOutcome::Reject(status, message) => {
                routes::reject(&mut conn.writer, status, &message)
            }
            http::ReadOutcome::Request(request) => routes::handle(state, &mut conn.writer, request),
        };
        match next {
            routes::Next::KeepAlive => {}
            routes::Next::Close => {
                let _ = conn.writer.shutdown(Shutdown::Write);
                return;
            }
            routes::Next::Abort => {
                let _ = conn.writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}
