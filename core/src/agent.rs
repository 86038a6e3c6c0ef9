//! The connection machinery under every request: the keep-alive agent (TLS roots from the OS
//! store and the bundled set, a DNS cache, coarse socket timeouts, cancellable reads, EINTR
//! resumed, a request's head and body in one write) and the cell that rebuilds it after a
//! fork. Nothing here knows about LLMs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::Duration as TimeDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    TcpConnector, Transport,
};
use ureq::Agent;

use crate::cancel::{CancelToken, CANCEL_POLL};
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::secret::Env;

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
    // Read once per process for the same paths (and the same file modification time): every
    // client would otherwise parse the whole bundle again.
    type Key = (
        Option<String>,
        Option<String>,
        Option<std::time::SystemTime>,
    );
    static CACHE: std::sync::OnceLock<Mutex<HashMap<Key, Arc<Vec<Certificate<'static>>>>>> =
        std::sync::OnceLock::new();
    let modified = file
        .as_ref()
        .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
    let key: Key = (file.clone(), dir.clone(), modified);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(certs) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(RootCerts::Specific(certs.clone()));
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
    let certs: Arc<Vec<Certificate<'static>>> = Arc::new(
        loaded
            .certs
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect(),
    );
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 16 {
        cache.clear();
    }
    cache.insert(key, certs.clone());
    Ok(RootCerts::Specific(certs))
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
    /// learn which request it carries). Set only by [`with_cancel`], for the length of its call.
    static SENDING: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Runs `send` (one ureq request) with `token` visible to the connection that writes it, so
/// the connection's reads end once the token is cancelled. The token is cleared when `send`
/// returns or unwinds; there is no guard value for a caller to drop too early.
pub fn with_cancel<T>(token: Option<&CancelToken>, send: impl FnOnce() -> T) -> T {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            SENDING.with(|slot| *slot.borrow_mut() = None);
        }
    }
    SENDING.with(|slot| *slot.borrow_mut() = token.cloned());
    let _clear = Clear;
    send()
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

/// Sends a request's head and its body in one write. ureq transmits the head, then the body: on
/// a connection that is two `send` calls, two TCP segments, and on loopback or a busy server two
/// wake-ups of the reader, for every request. A head (output ending with an empty line) is held
/// back and goes out in front of what is transmitted next when both fit the output buffer, on
/// its own otherwise; a held head is sent before any read (a request without a body, or one
/// that waits for `100 Continue`), so nothing ever waits on it. Sits on top of the chain, so
/// under TLS both travel in one record too.
#[derive(Debug)]
struct OneWrite<T> {
    inner: T,
    held: Vec<u8>,
}

impl<T: Transport> OneWrite<T> {
    /// Sends the held head on its own (the output buffer's content is not needed any more).
    fn flush_held(&mut self, timeout: NextTimeout) -> std::result::Result<(), ureq::Error> {
        if self.held.is_empty() {
            return Ok(());
        }
        let head = std::mem::take(&mut self.held);
        self.inner.buffers().output()[..head.len()].copy_from_slice(&head);
        self.inner.transmit_output(head.len(), timeout)
    }
}

impl<T: Transport> Transport for OneWrite<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        let output = self.inner.buffers().output();
        let room = output.len();
        if self.held.is_empty() {
            let out = &output[..amount];
            if amount < room && out.ends_with(b"\r\n\r\n") {
                self.held.extend_from_slice(out);
                return Ok(());
            }
            return self.inner.transmit_output(amount, timeout);
        }
        let head = self.held.len();
        if head + amount > room {
            // Too large to join the head: one after the other.
            let body = output[..amount].to_vec();
            self.flush_held(timeout)?;
            self.inner.buffers().output()[..amount].copy_from_slice(&body);
            return self.inner.transmit_output(amount, timeout);
        }
        output.copy_within(..amount, head);
        output[..head].copy_from_slice(&self.held);
        self.held.clear();
        self.inner.transmit_output(head + amount, timeout)
    }

    fn maybe_await_input(
        &mut self,
        timeout: NextTimeout,
    ) -> std::result::Result<bool, ureq::Error> {
        self.flush_held(timeout)?;
        self.inner.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.flush_held(timeout)?;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// Puts [`OneWrite`] on top of the chain (above TLS).
#[derive(Debug)]
struct OneWriteConnector;

impl<In: Transport> Connector<In> for OneWriteConnector {
    type Out = OneWrite<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| OneWrite {
            inner,
            held: Vec::new(),
        }))
    }
}

/// The largest response head (status line and headers) aigw reads: 16 KiB, twice what common
/// proxies pass (nginx's `proxy_buffer_size` is 4–8 KiB); a larger one is `PROTOCOL`.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

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
        // Per connection, zero-filled when first used, so resident: ureq's 128 KiB + 128 KiB
        // defaults cost 256 MiB for a thousand streams in flight. The input buffer must hold a
        // whole response head; ureq's check is "more than", hence the - 1.
        .input_buffer_size(MAX_RESPONSE_HEAD)
        .max_response_header_size(MAX_RESPONSE_HEAD - 1)
        .output_buffer_size(8 * 1024)
        .max_redirects(0)
        .user_agent(format!("aigw/{}", crate::VERSION))
        .build();
    // ureq's default chain (CONNECT proxy, TCP, rustls) with CoarseTimeouts between TCP and TLS
    // and OneWrite on top.
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(CoarseTimeoutsConnector)
            .chain(RustlsConnector::default())
            .chain(OneWriteConnector);
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

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::unversioned::transport::LazyBuffers;

    /// A connection that records what is transmitted, one entry per transmit.
    #[derive(Debug)]
    struct Recorder {
        buffers: LazyBuffers,
        sent: Vec<Vec<u8>>,
    }

    impl Transport for Recorder {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(
            &mut self,
            amount: usize,
            _: NextTimeout,
        ) -> std::result::Result<(), ureq::Error> {
            let bytes = self.buffers.output()[..amount].to_vec();
            self.sent.push(bytes);
            Ok(())
        }
        fn await_input(&mut self, _: NextTimeout) -> std::result::Result<bool, ureq::Error> {
            Ok(false)
        }
        fn is_open(&mut self) -> bool {
            true
        }
    }

    fn timeout() -> NextTimeout {
        NextTimeout {
            after: TimeDuration::NotHappening,
            reason: ureq::Timeout::Global,
            per_read: None,
            per_write: None,
        }
    }

    fn one_write(output: usize) -> OneWrite<Recorder> {
        OneWrite {
            inner: Recorder {
                buffers: LazyBuffers::new(64, output),
                sent: Vec::new(),
            },
            held: Vec::new(),
        }
    }

    /// Writes `bytes` into the output buffer and transmits them, as ureq does.
    fn send(t: &mut OneWrite<Recorder>, bytes: &[u8]) {
        t.buffers().output()[..bytes.len()].copy_from_slice(bytes);
        t.transmit_output(bytes.len(), timeout()).expect("transmit");
    }

    const POST: &[u8] = b"POST /v1/chat HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n";

    #[test]
    fn a_head_and_its_body_leave_in_one_write() {
        let mut t = one_write(1024);
        for round in 0..2 {
            send(&mut t, POST);
            assert_eq!(t.inner.sent.len(), round, "the head is held");
            send(&mut t, b"hello");
        }
        let whole = [POST, b"hello"].concat();
        assert_eq!(t.inner.sent, vec![whole.clone(), whole]);
    }

    #[test]
    fn a_chunked_body_joins_its_head_and_a_large_body_follows_it() {
        let chunked = b"POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n";
        let mut t = one_write(1024);
        send(&mut t, chunked);
        send(&mut t, b"5\r\nhello\r\n");
        send(&mut t, b"0\r\n\r\n");
        assert!(!t.await_input(timeout()).expect("await"));
        let first = [&chunked[..], b"5\r\nhello\r\n"].concat();
        assert_eq!(t.inner.sent, vec![first, b"0\r\n\r\n".to_vec()]);

        let mut t = one_write(1024);
        send(&mut t, POST);
        let body = vec![b'b'; 1000];
        send(&mut t, &body);
        assert_eq!(t.inner.sent, vec![POST.to_vec(), body]);
    }

    #[test]
    fn output_that_is_not_a_whole_head_leaves_at_once() {
        let mut t = one_write(1024);
        send(&mut t, b"POST /a HTTP/1.1\r\nx-long: valu");
        assert_eq!(t.inner.sent.len(), 1);
    }

    #[test]
    fn a_held_head_goes_out_before_any_read() {
        let get = b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n";
        let expect = b"POST /a HTTP/1.1\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n";
        for head in [&get[..], &expect[..]] {
            let mut t = one_write(1024);
            send(&mut t, head);
            assert!(t.inner.sent.is_empty());
            assert!(!t.await_input(timeout()).expect("await"));
            assert_eq!(t.inner.sent, vec![head.to_vec()]);
        }
        let mut t = one_write(1024);
        send(&mut t, POST);
        assert!(!t.maybe_await_input(timeout()).expect("await"));
        assert_eq!(t.inner.sent, vec![POST.to_vec()]);
    }
}
