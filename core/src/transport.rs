//! HTTP transport (docs/contract.md §6): the keep-alive agent, one attempt with its deadlines, the mapping
//! of transport failures and upstream statuses to typed errors, and the retry policy
//! (which statuses, how long to wait, when a server-requested delay is too long).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ureq::http::{HeaderMap, Response, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::Duration as TimeDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    TcpConnector, Transport,
};
use ureq::{Agent, Body};

use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::auth::{is_sensitive_header, Env};
use crate::cancel::{cancelled_error, CancelToken, CANCEL_POLL};
use crate::error::{Error, ErrorCode, Result};
use crate::gateway::{parse_error_body, ErrorBody};
use crate::profile::Profile;
use crate::scrub::Scrubber;

/// Root certificates. `SSL_CERT_FILE` and `SSL_CERT_DIR`, when set, replace every other root
/// (their meaning in OpenSSL); otherwise the operating system's trust store (so a corporate CA
/// installed in the OS works with no setting) together with the bundled webpki roots (so a
/// machine with an empty or missing store still verifies public hosts).
fn root_certs(env: &Env) -> Result<RootCerts> {
    let file = env.var("SSL_CERT_FILE");
    let dir = env.var("SSL_CERT_DIR");
    if file.is_none() && dir.is_none() {
        return Ok(RootCerts::Specific(default_roots()));
    }
    let named = [("SSL_CERT_FILE", &file), ("SSL_CERT_DIR", &dir)]
        .iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v}")))
        .collect::<Vec<_>>()
        .join(" and ");
    if let Some(path) = &file {
        std::fs::metadata(path)
            .map_err(|e| Error::config(format!("SSL_CERT_FILE={path} cannot be read: {e}")))?;
    }
    let loaded = rustls_native_certs::load_certs_from_paths(
        file.as_deref().map(std::path::Path::new),
        dir.as_deref().map(std::path::Path::new),
    );
    if loaded.certs.is_empty() {
        let why = loaded
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(Error::config(format!(
            "{named} holds no PEM certificate{why}"
        )));
    }
    let certs: Vec<Certificate<'static>> = loaded
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    Ok(RootCerts::Specific(Arc::new(certs)))
}

/// The OS store plus the bundled roots, read once per process (reading the store costs
/// milliseconds, and every client would otherwise pay it).
fn default_roots() -> Arc<Vec<Certificate<'static>>> {
    static ROOTS: std::sync::OnceLock<Arc<Vec<Certificate<'static>>>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            // Errors of the OS store (an unreadable file among many) leave the bundled roots.
            let native = rustls_native_certs::load_native_certs().certs;
            let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
            let certs = native
                .iter()
                .map(|der| der.as_ref())
                .chain(bundled.iter().map(|der| der.as_ref()))
                .map(|der| Certificate::from_der(der).to_owned())
                .collect();
            Arc::new(certs)
        })
        .clone()
}

/// How long a host's resolved addresses are reused.
const DNS_CACHE_TTL: Duration = Duration::from_secs(30);

/// ureq resolves the host on every request, before looking in its connection pool, and with a
/// deadline set it does so on a new thread each time. This resolver answers IP literals at once
/// and reuses a name's addresses for [`DNS_CACHE_TTL`], so a pooled request costs no lookup.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            return self.inner.resolve(uri, config, timeout);
        };
        let port = authority
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, addrs)) = cache.get(&key) {
                if at.elapsed() < DNS_CACHE_TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

/// Granularity of socket timeouts; see [`CoarseTimeouts`].
const TIMEOUT_STEP_MS: u128 = 50;

thread_local! {
    /// The cancel token of the request this thread is sending, picked up by the connection that
    /// writes it (ureq writes on the calling thread and gives a connection no other way to
    /// learn which request it carries). Set and cleared only by [`send`].
    static SENDING: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Clears [`SENDING`] when `send` returns, however it returns.
struct SendingGuard;

impl SendingGuard {
    fn set(token: Option<&CancelToken>) -> SendingGuard {
        SENDING.with(|slot| *slot.borrow_mut() = token.cloned());
        SendingGuard
    }
}

impl Drop for SendingGuard {
    fn drop(&mut self) {
        SENDING.with(|slot| *slot.borrow_mut() = None);
    }
}

/// The I/O error a cancelled read ends with; callers report it as `CANCELLED`.
fn cancelled_read() -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "the request was cancelled",
    ))
}

/// The TCP transport as aigw wants it, in two respects:
/// - ureq sets the socket timeout before every read and write to the time left until the
///   deadline, which differs every time: one `setsockopt` syscall per read and per write.
///   Rounding the time left up to [`TIMEOUT_STEP_MS`] makes consecutive values equal, and ureq
///   skips the syscall when the value is unchanged. A deadline may so fire up to one step late.
/// - While the connection carries a request with a cancel token, reads wait in [`CANCEL_POLL`]
///   slices and end with a cancellation error once the token is cancelled.
/// - A read interrupted by a signal (EINTR) is resumed, as Python does since PEP 475, instead of
///   failing the request as a broken connection.
#[derive(Debug)]
struct CoarseTimeouts<T> {
    inner: T,
    cancel: Option<CancelToken>,
}

fn coarse(mut timeout: NextTimeout) -> NextTimeout {
    if let TimeDuration::Exact(left) = timeout.after {
        if !left.is_zero() {
            let steps = left.as_millis().div_ceil(TIMEOUT_STEP_MS).max(1);
            let ms = u64::try_from(steps * TIMEOUT_STEP_MS).unwrap_or(u64::MAX);
            timeout.after = TimeDuration::Exact(Duration::from_millis(ms));
        }
    }
    timeout
}

impl<T: Transport> Transport for CoarseTimeouts<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        // Each request on this (possibly pooled) connection says again whether it is cancellable.
        self.cancel = SENDING.with(|slot| slot.borrow().clone());
        self.inner.transmit_output(amount, coarse(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        let limit = timeout.for_read();
        let deadline = match limit.after {
            TimeDuration::Exact(left) => Some(Instant::now() + left),
            TimeDuration::NotHappening => None,
        };
        // The flag is looked at before every wait, the poll function (which may be costly, e.g.
        // take Python's GIL) only after a slice passed in silence.
        let mut waited = false;
        loop {
            let cancelled = |t: &CancelToken| if waited { t.is_cancelled() } else { t.is_set() };
            if self.cancel.as_ref().is_some_and(cancelled) {
                return Err(cancelled_read());
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let step = match (&self.cancel, left) {
                (None, _) => timeout,
                (Some(_), left) => NextTimeout {
                    after: TimeDuration::Exact(left.map_or(CANCEL_POLL, |l| l.min(CANCEL_POLL))),
                    reason: limit.reason,
                    per_read: None,
                    per_write: limit.per_write,
                },
            };
            let sliced = self.cancel.is_some() && left.is_none_or(|l| l > CANCEL_POLL);
            match self.inner.await_input(coarse(step)) {
                Err(ureq::Error::Timeout(_)) if sliced => waited = true,
                Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }
}

/// Wraps the TCP transport (under TLS) in [`CoarseTimeouts`].
#[derive(Debug)]
struct CoarseTimeoutsConnector;

impl<In: Transport> Connector<In> for CoarseTimeoutsConnector {
    type Out = CoarseTimeouts<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| CoarseTimeouts {
            inner,
            cancel: None,
        }))
    }
}

/// Builds the client's agent: keep-alive pool sized for many threads, statuses returned as
/// responses (we classify them), certificates always verified, proxies from the process
/// environment (ureq reads `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`).
pub fn build_agent(profile: &Profile, env: &Env) -> Result<Agent> {
    let connect = Duration::from_millis(profile.connect_timeout_ms);
    let tls = TlsConfig::builder().root_certs(root_certs(env)?).build();
    let config = Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_resolve(Some(connect))
        .timeout_connect(Some(connect))
        .max_idle_connections(256)
        .max_idle_connections_per_host(128)
        // Per connection: ureq's 128 KiB + 128 KiB defaults cost 32 MiB for a full pool. The input
        // buffer must still hold a whole response head (64 KiB, ureq's limit).
        .input_buffer_size(64 * 1024)
        .output_buffer_size(32 * 1024)
        .max_redirects(0)
        .user_agent(format!("aigw/{}", crate::VERSION))
        .build();
    // ureq's default chain (CONNECT proxy, TCP, rustls) with CoarseTimeouts between TCP and TLS.
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(CoarseTimeoutsConnector)
            .chain(RustlsConnector::default());
    Ok(Agent::with_parts(
        config,
        connector,
        CachingResolver::default(),
    ))
}

/// The client's agent, replaced when the process forked. A child must never reuse a keep-alive
/// connection its parent opened: both would write requests on one socket and read each other's
/// answers. The pid is compared on every request (one `getpid`, far below a request's cost);
/// `pthread_atfork` would avoid it but needs unsafe code in core.
pub struct AgentCell {
    pid: std::sync::atomic::AtomicU32,
    agent: std::sync::RwLock<Agent>,
}

impl AgentCell {
    /// Holds `agent`, built in this process.
    pub fn new(agent: Agent) -> AgentCell {
        AgentCell {
            pid: std::sync::atomic::AtomicU32::new(std::process::id()),
            agent: std::sync::RwLock::new(agent),
        }
    }

    /// The agent for this process; after a fork, a new one from `build` (once per process).
    pub fn get(&self, build: impl FnOnce() -> Result<Agent>) -> Result<Agent> {
        let pid = std::process::id();
        if self.pid.load(Ordering::Acquire) == pid {
            return Ok(self.agent.read().unwrap_or_else(|p| p.into_inner()).clone());
        }
        let mut agent = self.agent.write().unwrap_or_else(|p| p.into_inner());
        if self.pid.load(Ordering::Acquire) != pid {
            let inherited = std::mem::replace(&mut *agent, build()?);
            // Dropping would close the parent's pooled sockets from here (a TLS close could
            // even be written on them); leaking the child's copies of them is harmless.
            std::mem::forget(inherited);
            self.pid.store(pid, Ordering::Release);
        }
        Ok(agent.clone())
    }
}

impl std::fmt::Debug for AgentCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentCell")
    }
}

/// Which deadline a request runs under.
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// Non-streaming: the whole attempt.
    Whole(Duration),
    /// Streaming: until response headers, then the idle limit between reads.
    Stream {
        /// Until the response headers arrived.
        headers: Duration,
        /// The longest silence between stream bytes.
        idle: Duration,
    },
}

/// One HTTP request to send.
pub struct Outgoing<'a> {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Target URL.
    pub url: &'a str,
    /// Every header, in order (auth included).
    pub headers: &'a [(String, String)],
    /// JSON body for POST.
    pub body: Option<&'a [u8]>,
    /// Deadline policy.
    pub deadline: Deadline,
    /// Cancels the request while it waits for bytes (this response's body reads included).
    pub cancel: Option<&'a CancelToken>,
    /// Secrets to keep out of the debug log.
    pub scrubber: &'a Scrubber,
}

fn log_enabled() -> bool {
    static LEVEL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        std::env::var("AIGW_LOG")
            .map(|v| v.eq_ignore_ascii_case("debug"))
            .unwrap_or(false)
    })
}

fn log_request(out: &Outgoing<'_>) {
    if !log_enabled() {
        return;
    }
    // Redacted by name and by value: a key in an unexpected header is still a key.
    let headers: Vec<String> = out
        .headers
        .iter()
        .map(|(n, v)| {
            let secret = is_sensitive_header(n) || out.scrubber.finds_secret_in(v);
            format!("{n}: {}", if secret { "<redacted>" } else { v })
        })
        .collect();
    eprintln!("aigw: {} {} [{}]", out.method, out.url, headers.join("; "));
}

/// Sends one request; upstream statuses (any) come back as `Ok`. Transport failures come back
/// typed; a cancelled request is `CANCELLED`.
pub fn send(agent: &Agent, out: &Outgoing<'_>) -> Result<Response<Body>> {
    log_request(out);
    let started = Instant::now();
    let _sending = SendingGuard::set(out.cancel);
    // The builders of GET and POST are different types; one macro applies headers and deadline.
    macro_rules! prepared {
        ($builder:expr) => {{
            let mut req = $builder;
            for (n, v) in out.headers {
                req = req.header(n.as_str(), v.as_str());
            }
            match out.deadline {
                Deadline::Whole(d) => req.config().timeout_per_call(Some(d)).build(),
                Deadline::Stream { headers, idle } => req
                    .config()
                    .timeout_recv_response(Some(headers))
                    .timeout_per_read(Some(idle))
                    .build(),
            }
        }};
    }
    let result = match out.body {
        Some(body) => prepared!(agent.post(out.url)).send(body),
        None => prepared!(agent.get(out.url)).call(),
    };
    if log_enabled() {
        match &result {
            Ok(r) => eprintln!(
                "aigw: <- {} in {} ms",
                r.status().as_u16(),
                started.elapsed().as_millis()
            ),
            Err(e) => eprintln!(
                "aigw: <- error {} in {} ms",
                out.scrubber.scrub(&e.to_string()),
                started.elapsed().as_millis()
            ),
        }
    }
    result.map_err(|e| {
        if out.cancel.is_some_and(CancelToken::is_set) {
            return cancelled_error("request");
        }
        map_ureq_error(e, out.url, out.deadline, Phase::Response)
    })
}

/// Where a failure happened, to name the timeout phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before or while receiving the answer.
    Response,
    /// Reading a stream body.
    StreamBody,
}

fn deadline_ms(deadline: Deadline, idle: bool) -> u128 {
    match deadline {
        Deadline::Whole(d) => d.as_millis(),
        Deadline::Stream { headers, idle: i } => {
            if idle {
                i.as_millis()
            } else {
                headers.as_millis()
            }
        }
    }
}

/// Maps a ureq failure to a typed error naming the URL (never a header or key).
pub fn map_ureq_error(err: ureq::Error, url: &str, deadline: Deadline, phase: Phase) -> Error {
    use ureq::Timeout as T;
    match err {
        ureq::Error::Timeout(which) => {
            let name = match which {
                T::Connect | T::Resolve => "connect",
                T::PerRead | T::RecvBody if phase == Phase::StreamBody => "stream_idle",
                _ => "response",
            };
            let ms = match name {
                "connect" => None,
                "stream_idle" => Some(deadline_ms(deadline, true)),
                _ => Some(deadline_ms(deadline, false)),
            };
            let limit = ms.map(|m| format!(" (limit {m} ms)")).unwrap_or_default();
            Error::new(
                ErrorCode::Timeout,
                format!("request timed out in phase {name}{limit}: {url}"),
            )
        }
        ureq::Error::HostNotFound => Error::new(
            ErrorCode::Connection,
            format!("could not resolve the host of {url}"),
        ),
        ureq::Error::ConnectionFailed => match proxy_for(url) {
            Some(proxy) => Error::new(
                ErrorCode::Connection,
                format!("could not connect to the proxy {proxy} (from the proxy environment variables) on the way to {url}"),
            ),
            None => Error::new(ErrorCode::Connection, format!("could not connect to {url}")),
        },
        ureq::Error::ConnectProxyFailed(why) => Error::new(
            ErrorCode::Connection,
            format!("the proxy {} did not open a tunnel to {url}: {why}", proxy_for(url).unwrap_or_default()),
        ),
        ureq::Error::Tls(what) => Error::new(
            ErrorCode::Connection,
            format!("TLS failure talking to {url}: {what}"),
        ),
        ureq::Error::BodyExceedsLimit(limit) => Error::protocol(format!(
            "response body from {url} exceeds the limit of {limit} bytes"
        )),
        ureq::Error::Io(e) => map_io_error(e, url, deadline, phase),
        ureq::Error::BadUri(u) => Error::config(format!("invalid URL {u}")),
        ureq::Error::Protocol(e) => Error::protocol(format!(
            "malformed HTTP response from {url} ({e}); not retried"
        )),
        other => Error::new(
            ErrorCode::Connection,
            format!("request to {url} failed: {other}"),
        ),
    }
}

/// `host:port` of the proxy the agent uses for `url` (ureq reads the same variables when the
/// agent is built), or `None` when the request goes direct. Never shows proxy credentials.
fn proxy_for(url: &str) -> Option<String> {
    let proxy = ureq::Proxy::try_from_env()?;
    let uri: Uri = url.parse().ok()?;
    if proxy.is_no_proxy(&uri) {
        return None;
    }
    Some(format!("{}:{}", proxy.host(), proxy.port()))
}

/// Maps an I/O error from reading a body, recovering a wrapped ureq error first.
pub fn map_io_error(e: std::io::Error, url: &str, deadline: Deadline, phase: Phase) -> Error {
    use std::io::ErrorKind as K;
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return map_ureq_error(ureq::Error::from(e), url, deadline, phase);
    }
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return Error::new(
            ErrorCode::Connection,
            format!("TLS failure talking to {url}: {tls}"),
        );
    }
    match e.kind() {
        K::TimedOut | K::WouldBlock => {
            let (name, ms) = if phase == Phase::StreamBody {
                ("stream_idle", deadline_ms(deadline, true))
            } else {
                ("response", deadline_ms(deadline, false))
            };
            Error::new(
                ErrorCode::Timeout,
                format!("request timed out in phase {name} (limit {ms} ms): {url}"),
            )
        }
        K::ConnectionRefused => match proxy_for(url) {
            Some(proxy) => Error::new(
                ErrorCode::Connection,
                format!("connection refused by the proxy {proxy} (from the proxy environment variables) on the way to {url}"),
            ),
            None => Error::new(
                ErrorCode::Connection,
                format!("connection refused by {url}"),
            ),
        },
        K::InvalidData => Error::protocol(format!("malformed response from {url}: {e}")),
        // Signals are resumed in `CoarseTimeouts`; an interrupted read is a cancelled request.
        K::Interrupted => cancelled_error("request"),
        _ => Error::new(
            ErrorCode::Connection,
            format!("connection to {url} failed: {e}"),
        ),
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub fn read_body(body: &mut Body, limit: u64, url: &str, deadline: Deadline) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut reader = body.with_config().limit(limit.saturating_add(1)).reader();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| map_io_error(e, url, deadline, Phase::Response))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() as u64 + n as u64 > limit {
            return Err(Error::protocol(format!(
                "response body from {url} exceeds the limit of {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The error for a non-2xx answer: code by status, message and provider code from the body.
/// The body is scrubbed of the client's secrets before any of it is kept (upstreams quote the
/// key they refused), then cut to a readable length.
pub fn status_error(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
    scrubber: &Scrubber,
) -> (Error, ErrorBody) {
    let parsed = parse_error_body(body);
    let code = ErrorCode::from_http_status(status);
    let detail = match &parsed.message {
        Some(message) => scrubber.scrub(message).into_owned(),
        None => {
            let text = scrubber.scrub_prefix(body, 200).trim().to_string();
            if text.is_empty() {
                "no error body".to_string()
            } else {
                text
            }
        }
    };
    let explained = explain(status, &parsed);
    let what = match (code, explained) {
        (_, Some((what, _))) => what,
        (ErrorCode::Auth, None) => "authentication failed (check the key and, for authenticated gateways, gateway.authorization)",
        (ErrorCode::RateLimited, None) => "rate limited",
        _ if (300..400).contains(&status) => "redirected (aigw does not follow redirects: point provider.base_url at the final URL)",
        _ => "request failed",
    };
    let mut message = format!("{what}: HTTP {status} from {url}: {detail}");
    if (300..400).contains(&status) {
        let location = header(headers, "location").unwrap_or("(no Location header)");
        message.push_str(&format!("; Location: {}", scrubber.scrub(location)));
    }
    let mut err = Error::new(code, message);
    err.http_status = Some(status);
    err.provider_code = match explained {
        Some((_, Some(known))) => Some(known.to_string()),
        _ => parsed.code.clone(),
    };
    err.request_id = request_id(headers);
    err.retry_after_ms = server_delay(headers, SystemTime::now());
    (scrubber.scrub_error(err), parsed)
}

/// The headers a request id may come in, first present wins: providers' own, Cloudflare's,
/// Anthropic's, Bedrock's, LiteLLM's.
pub const REQUEST_ID_HEADERS: [&str; 5] = [
    "x-request-id",
    "cf-aig-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-litellm-call-id",
];

/// The request id and the header it came from (see [`REQUEST_ID_HEADERS`]).
pub fn request_id_with_header(headers: &HeaderMap) -> Option<(&'static str, String)> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| header(headers, name).map(|v| (*name, v.to_string())))
}

/// The request id of an answer, else its `cf-aig-log-id`.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    request_id_with_header(headers)
        .map(|(_, id)| id)
        .or_else(|| header(headers, "cf-aig-log-id").map(str::to_string))
}

/// A refusal by the gateway itself rather than by the provider behind it: the key pool must
/// not move on (another provider key cannot help) and retrying cannot help either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRefusal {
    /// 401 with code 2009: the gateway refused its own token (`cf-aig-authorization`).
    Token,
    /// 429 "Spending limit exceeded": a gateway spending policy, reset hourly or later.
    SpendingLimit,
    /// 403 "Access denied by policy".
    Policy,
}

impl GatewayRefusal {
    /// Recognises a gateway refusal from the status and the parsed body.
    pub fn of(status: u16, body: &ErrorBody) -> Option<GatewayRefusal> {
        let message = body.message.as_deref().unwrap_or("").to_ascii_lowercase();
        match status {
            401 if body.code.as_deref() == Some("2009") => Some(GatewayRefusal::Token),
            429 if message.contains("spending limit") => Some(GatewayRefusal::SpendingLimit),
            403 if message.contains("denied by policy") => Some(GatewayRefusal::Policy),
            _ => None,
        }
    }
}

/// What an error says, beyond its status: the gateway's own refusals and Guardrails, with
/// the provider code they are known by and what the operator should do.
fn explain(status: u16, body: &ErrorBody) -> Option<(&'static str, Option<&'static str>)> {
    if let Some(refusal) = GatewayRefusal::of(status, body) {
        return Some(match refusal {
            GatewayRefusal::Token => (
                "the gateway refused its own token (code 2009), not the provider key: this gateway requires authentication; set or fix gateway.authorization (sent as cf-aig-authorization)",
                None,
            ),
            GatewayRefusal::SpendingLimit => (
                "the gateway's spending limit is exceeded (a Cloudflare spending policy; it resets hourly or later, so aigw does not retry)",
                Some("spending_limit"),
            ),
            GatewayRefusal::Policy => (
                "access denied by a gateway policy (Cloudflare AI Gateway policies)",
                Some("policy"),
            ),
        });
    }
    match (status, body.code.as_deref()) {
        (424 | 422, Some("2016")) => Some((
            "Cloudflare Guardrails blocked the prompt (code 2016)",
            None,
        )),
        (424 | 422, Some("2017")) => Some((
            "Cloudflare Guardrails blocked the request or response (code 2017)",
            None,
        )),
        (402, Some("2021")) => Some((
            "out of credit (code 2021): the gateway's Guardrails scanner or balance has no credit left",
            None,
        )),
        _ => None,
    }
}

/// Statuses worth another attempt (docs/contract.md §6).
pub fn retryable_status(status: u16, provider_code: Option<&str>) -> bool {
    match status {
        429 => provider_code != Some("insufficient_quota"),
        // 529: "overloaded" (Anthropic, some gateways); the SDKs retry it like 503.
        408 | 409 | 425 | 500 | 502 | 503 | 504 | 529 => true,
        _ => false,
    }
}

/// Whether an error body (404/400) is about the model, so the next candidate may work.
pub fn model_shaped(status: u16, body: &ErrorBody) -> bool {
    if status != 404 && status != 400 {
        return false;
    }
    let mentions = |s: &Option<String>| {
        s.as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("model"))
    };
    mentions(&body.code) || mentions(&body.param) || mentions(&body.message)
}

/// `retry-after-ms`, then `Retry-After` (seconds or HTTP date), in milliseconds.
pub fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(ms.ceil() as u64);
        }
    }
    let value = header(headers, "retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now).saturating_mul(1000))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // The header comes from the network: out-of-range fields are no date (and no overflow).
    if !(1970..=9999).contains(&year) || !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm); all terms are small after the checks.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + (*h * 3600 + *m * 60 + *s) as i64).ok()
}

/// Exponential backoff with jitter: `min(initial × 2^n, max) × U[0.75, 1]`.
pub fn backoff_delay(retry_index: u32, initial_ms: u64, max_ms: u64) -> u64 {
    let base = initial_ms
        .saturating_mul(1u64 << retry_index.min(30))
        .min(max_ms);
    (base as f64 * (0.75 + 0.25 * unit_random())) as u64
}

/// A cheap uniform number in [0, 1) (splitmix64 over a time-seeded counter); jitter only.
fn unit_random() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(
            parse_http_date("Sun, 06 Nov 9223372036854775807 08:49:37 GMT"),
            None
        );
        assert_eq!(parse_http_date("Sun, 99 Nov 1994 99:49:37 GMT"), None);
    }

    #[test]
    fn backoff_bounds() {
        for n in 0..10 {
            let d = backoff_delay(n, 300, 3000);
            let base = (300u64 << n).min(3000);
            assert!(d >= base * 3 / 4 && d <= base, "{n}: {d}");
        }
    }

    #[test]
    fn retry_classes() {
        assert!(retryable_status(429, Some("rate_limit")));
        assert!(!retryable_status(429, Some("insufficient_quota")));
        assert!(retryable_status(503, None));
        assert!(retryable_status(529, None));
        assert!(!retryable_status(400, None));
    }
}
