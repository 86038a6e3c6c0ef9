//! One HTTP exchange (docs/contract.md §6): a request sent under its deadline and cancel token,
//! transport failures mapped to typed errors naming the URL (never a header or key), bounded
//! body reads, and a non-2xx answer read and classified in the same pass.

use std::io::Read;
use std::time::{Duration, Instant};

use ureq::http::{HeaderMap, Response, Uri};
use ureq::{Agent, Body};

use crate::agent::with_cancel;
use crate::cancel::{cancelled_error, CancelToken};
use crate::classify::{classify, Refusal};
use crate::error::{Error, ErrorCode, Result};
use crate::scrub::Scrubber;
use crate::secret::is_sensitive_header;

/// How much of a non-2xx body is read to classify it.
const ERROR_BODY_LIMIT: u64 = 1 << 20;

/// One attempt's answer: a success to read, or a classified refusal.
pub enum Answer {
    /// 2xx: the response, its body unread.
    Success(Response<Body>),
    /// Non-2xx, read and classified.
    Refused(Refusal),
}

/// Sends one request and classifies a non-2xx answer (its body read up to 1 MiB). Transport
/// failures are `Err`, typed (`TIMEOUT`, `CONNECTION`, `CANCELLED`…).
pub fn exchange(agent: &Agent, out: &Outgoing<'_>) -> Result<Answer> {
    let mut response = send(agent, out)?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(Answer::Success(response));
    }
    // A body that cannot be read whole still classifies by status.
    let bytes =
        read_body(response.body_mut(), ERROR_BODY_LIMIT, out.url, out.deadline).unwrap_or_default();
    Ok(Answer::Refused(classify(
        status,
        response.headers(),
        &bytes,
        out.url,
        out.scrubber,
    )))
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
    let result = with_cancel(out.cancel, || match out.body {
        Some(body) => prepared!(agent.post(out.url)).send(body),
        None => prepared!(agent.get(out.url)).call(),
    });
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
        ureq::Error::LargeResponseHeader(..) => Error::protocol(format!(
            "the response head from {url} is larger than {} bytes (aigw's limit); not retried",
            crate::agent::MAX_RESPONSE_HEAD
        )),
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
