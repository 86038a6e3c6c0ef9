//! What the mock answers: gateway auth, `GET …/models`, `POST …/chat/completions` (JSON here,
//! SSE in `stream`), the `/__mock/` control routes, and the non-streaming fault answers both
//! endpoints share. Bodies and codes mirror Cloudflare AI Gateway's (docs/contract.md §11).

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::fault::{Faults, Route};
use crate::http::{self, Request, Wire};
use crate::{lock, RecordedRequest, State};

/// What the connection loop does after a response.
pub(crate) enum Next {
    KeepAlive,
    /// Finish writing and close gracefully.
    Close,
    /// Drop the connection at once (a fault, or a response left unfinished on purpose).
    Abort,
}

/// Providers the gateway's unified `compat` endpoint routes to.
const PROVIDERS: [&str; 10] = [
    "openai",
    "anthropic",
    "workers-ai",
    "google-ai-studio",
    "groq",
    "mistral",
    "deepseek",
    "xai",
    "perplexity",
    "cohere",
];

/// The model a `mock/<fault spec>` request is answered as.
const MOCK_MODEL_ANSWER: &str = "openai/gpt-4o-mini";
/// Answer text for `utf8_split`: half the characters are multi-byte (2, 3 and 4 bytes long).
const UTF8_SPLIT_TEXT: &str = "aéb中c🦀dé";
/// Cycled to build a `content_len=<n>` answer.
const CONTENT_LEN_CYCLE: &str = "héllo wörld 🦀 中文 ";
/// Stand-in string replaced in serialized JSON by bytes serde_json would never produce.
pub(crate) const PLACEHOLDER: &str = "@@AIGW_MOCK_PLACEHOLDER@@";
const MIB: u64 = 1024 * 1024;
/// `huge_body_mib` writes in pieces of this size so memory stays flat whatever the body size.
const HUGE_PIECE: usize = 64 * 1024;

/// The response to one request: the socket plus the headers every answer carries.
pub(crate) struct Reply<'a> {
    pub w: &'a mut Wire,
    keep_alive: bool,
    headers: Vec<(String, String)>,
}

impl Reply<'_> {
    pub(crate) fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_string(), value));
    }

    /// Writes the status line and headers for a body the caller writes itself.
    pub fn start(&mut self, status: u16, extra: &[(&str, String)]) -> io::Result<()> {
        let mut headers = self.headers.clone();
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
        if !self.keep_alive {
            headers.push(("connection".into(), "close".into()));
        }
        http::write_head(self.w, status, &headers)
    }

    /// What follows a completely written response.
    pub fn done(&self) -> Next {
        if self.keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    fn send(&mut self, status: u16, content_type: &str, body: &[u8]) -> Next {
        let extra = [
            ("content-type", content_type.to_string()),
            ("content-length", body.len().to_string()),
        ];
        let written = self
            .start(status, &extra)
            .and_then(|()| self.w.write_all(body))
            .and_then(|()| self.w.flush());
        match written {
            Ok(()) => self.done(),
            Err(_) => Next::Close,
        }
    }

    pub(crate) fn json(&mut self, status: u16, body: &Value) -> Next {
        self.send(status, "application/json", body.to_string().as_bytes())
    }
}

/// Answers a request the HTTP layer could not accept, then closes.
pub(crate) fn reject(w: &mut Wire, status: u16, message: &str) -> Next {
    let mut reply = Reply {
        w,
        keep_alive: false,
        headers: Vec::new(),
    };
    reply.json(
        status,
        &openai_error(message, "invalid_request_error", "bad_request"),
    );
    Next::Close
}

pub(crate) fn handle(state: &State, w: &mut Wire, req: Request) -> Next {
    if let Some(control) = req.path().strip_prefix("/__mock/") {
        let mut reply = Reply {
            w,
            keep_alive: req.keep_alive,
            headers: Vec::new(),
        };
        return control_route(state, &mut reply, &req.method, control);
    }

    lock(&state.requests).push(RecordedRequest {
        method: req.method.clone(),
        path: req.target.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
    });
    let number = state.next_request_number.fetch_add(1, Ordering::SeqCst);
    let mut reply = Reply {
        w,
        keep_alive: req.keep_alive,
        headers: gateway_headers(number, &req),
    };

    if let Some((model, stream, surface)) = bedrock_endpoint(req.path()) {
        if let Err(refusal) = authorized(state, &req, surface) {
            return unauthorized(&mut reply, refusal);
        }
        return match (model, req.method.as_str()) {
            (None, "GET") => crate::bedrock::models(&mut reply),
            (Some(model), "POST") => {
                crate::bedrock::converse(state, &mut reply, &req, &model, stream)
            }
            (_, method) => not_found(&mut reply, method, req.path()),
        };
    }
    if let Some((endpoint, surface)) = anthropic_endpoint(req.path()) {
        if let (Surface::Gateway, Err(refusal)) = (surface, authorized_gateway(state, &req)) {
            return unauthorized(&mut reply, refusal);
        }
        return match (endpoint, req.method.as_str()) {
            (Route::Models, "GET") => crate::anthropic::models(state, &mut reply, &req),
            (Route::Chat, "POST") => crate::anthropic::messages(state, &mut reply, &req, number),
            (_, method) => not_found(&mut reply, method, req.path()),
        };
    }
    match (
        gateway_endpoint(req.path(), state.config.strict_paths),
        req.method.as_str(),
    ) {
        (Some((Route::Models, surface)), "GET") => models(state, &mut reply, &req, surface),
        (Some((Route::Chat, surface)), "POST") => chat(state, &mut reply, &req, number, surface),
        (Some((Route::Embeddings, surface)), "POST") => {
            embeddings(state, &mut reply, &req, surface)
        }
        (Some(_), method) => reply.json(
            405,
            &openai_error(
                &format!("method {method} is not allowed on {}", req.path()),
                "invalid_request_error",
                "method_not_allowed",
            ),
        ),
        (None, method) if state.config.strict_paths => reply.json(
            404,
            &envelope(7003, &format!("Could not route {method} {}", req.path())),
        ),
        (None, method) => not_found(&mut reply, method, req.path()),
    }
}

fn not_found(reply: &mut Reply, method: &str, path: &str) -> Next {
    reply.json(
        404,
        &openai_error(
            &format!("no route for {method} {path}"),
            "invalid_request_error",
            "not_found",
        ),
    )
}

/// Where a request arrived: the gateway host's paths or Cloudflare's REST route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    /// `/v1/{account}/{gateway}/…`: the gateway token is `cf-aig-authorization`.
    Gateway,
    /// `/client/v4/accounts/{account}/ai/v1/…`: the gateway is named by `cf-aig-gateway-id`,
    /// and there is no separate gateway token.
    Rest,
}

/// The endpoint a path names: `/v1/{account}/{gateway}/compat/<rest>` (unified),
/// `/v1/{account}/{gateway}/openai/<rest>` (OpenAI passthrough), the seed's
/// `/v1/{account}/{gateway}/openai/compat/<rest>` (404 in strict mode, as Cloudflare does not
/// document it), or the REST `/client/v4/accounts/{account}/ai/v1/<rest>`.
fn gateway_endpoint(path: &str, strict: bool) -> Option<(Route, Surface)> {
    let segments: Vec<&str> = path.split('/').collect();
    let (rest, surface) = match segments.as_slice() {
        ["", "v1", account, gateway, "openai", "compat", rest @ ..]
            if !strict && !account.is_empty() && !gateway.is_empty() =>
        {
            (rest, Surface::Gateway)
        }
        ["", "v1", account, gateway, "openai", "compat", ..] if strict => return None,
        ["", "v1", account, gateway, "compat" | "openai", rest @ ..]
            if !account.is_empty() && !gateway.is_empty() =>
        {
            (rest, Surface::Gateway)
        }
        ["", "client", "v4", "accounts", account, "ai", "v1", rest @ ..] if !account.is_empty() => {
            (rest, Surface::Rest)
        }
        _ => return None,
    };
    match rest {
        ["models"] => Some((Route::Models, surface)),
        ["chat", "completions"] => Some((Route::Chat, surface)),
        ["embeddings"] => Some((Route::Embeddings, surface)),
        _ => None,
    }
}

/// The Bedrock routes: `/model/{id}/converse[-stream]` and `/foundation-models` at the root
/// (Bedrock's own hosts), or under Cloudflare's
/// `/v1/{account}/{gateway}/aws-bedrock/bedrock-runtime/{region}/`. Gives the model path
/// segment (`None` for the model list) and whether it is the stream route.
fn bedrock_endpoint(path: &str) -> Option<(Option<String>, bool, Surface)> {
    let segments: Vec<&str> = path.split('/').collect();
    let (rest, surface) = match segments.as_slice() {
        ["", "v1", account, gateway, "aws-bedrock", "bedrock-runtime", region, rest @ ..]
            if !account.is_empty() && !gateway.is_empty() && !region.is_empty() =>
        {
            (rest, Surface::Gateway)
        }
        ["", rest @ ..] => (rest, Surface::Rest),
        _ => return None,
    };
    match rest {
        ["model", model, "converse"] => Some((Some(model.to_string()), false, surface)),
        ["model", model, "converse-stream"] => Some((Some(model.to_string()), true, surface)),
        ["foundation-models"] => Some((None, false, surface)),
        _ => None,
    }
}

/// The Anthropic Messages routes: `/v1/messages` and `/v1/models` at the root (Anthropic's own
/// host), or under Cloudflare's `/v1/{account}/{gateway}/anthropic/`.
fn anthropic_endpoint(path: &str) -> Option<(Route, Surface)> {
    let segments: Vec<&str> = path.split('/').collect();
    let (rest, surface) = match segments.as_slice() {
        ["", "v1", rest @ ..] if rest.len() == 1 => (rest, Surface::Rest),
        ["", "v1", account, gateway, "anthropic", "v1", rest @ ..]
            if !account.is_empty() && !gateway.is_empty() =>
        {
            (rest, Surface::Gateway)
        }
        _ => return None,
    };
    match rest {
        ["messages"] => Some((Route::Chat, surface)),
        ["models"] => Some((Route::Models, surface)),
        _ => None,
    }
}

/// Headers on every gateway answer; `cf-aig-*` request headers are echoed back so tests can
/// see what reached the gateway, except credentials.
fn gateway_headers(number: u64, req: &Request) -> Vec<(String, String)> {
    let mut headers = vec![
        ("cf-aig-log-id".to_string(), format!("mocklog-{number:012}")),
        ("cf-aig-cache-status".to_string(), "MISS".to_string()),
        ("cf-aig-step".to_string(), "0".to_string()),
        ("x-request-id".to_string(), format!("req-{number}")),
    ];
    for (name, value) in &req.headers {
        if name.starts_with("cf-aig-") && !name.contains("authorization") {
            // A stray CR in a request value must not split our response header.
            let value: String = value
                .chars()
                .filter(|c| *c == '\t' || !c.is_control())
                .collect();
            headers.push((format!("x-mock-echo-{name}"), value));
        }
    }
    headers
}

fn control_route(state: &State, reply: &mut Reply, method: &str, route: &str) -> Next {
    match (method, route) {
        ("GET", "requests") => {
            let requests: Vec<Value> = lock(&state.requests)
                .iter()
                .map(|r| {
                    let mut headers = Map::new();
                    for (name, value) in &r.headers {
                        // Repeated headers are joined the way HTTP allows folding them.
                        let joined = match headers.get(name).and_then(Value::as_str) {
                            Some(previous) => format!("{previous}, {value}"),
                            None => value.clone(),
                        };
                        headers.insert(name.clone(), Value::String(joined));
                    }
                    json!({
                        "method": r.method,
                        "path": r.path,
                        "headers": headers,
                        "body": String::from_utf8_lossy(&r.body),
                    })
                })
                .collect();
            reply.json(200, &Value::Array(requests))
        }
        ("POST", "reset") => {
            state.reset();
            reply.json(200, &json!({"ok": true}))
        }
        ("GET", "stats") => {
            let stats = json!({
                "connections_opened": state.connections_opened.load(Ordering::SeqCst),
                "connections_closed": state.connections_closed.load(Ordering::SeqCst),
                "connections_peak": state.connections_peak.load(Ordering::SeqCst),
                "requests": lock(&state.requests).len(),
            });
            reply.json(200, &stats)
        }
        _ => not_found(reply, method, &format!("/__mock/{route}")),
    }
}

fn bearer(value: Option<&str>) -> Option<&str> {
    let (scheme, token) = value?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Who refused a request: the gateway (its own token, as Cloudflare's authenticated gateways
/// do) or the provider behind it (the key).
enum Refusal {
    GatewayToken,
    ProviderKey,
}

/// The gateway's own token, when the mock is an authenticated gateway.
fn authorized_gateway(state: &State, req: &Request) -> Result<(), Refusal> {
    match &state.config.gateway_token {
        Some(token) if bearer(req.header("cf-aig-authorization")) != Some(token.as_str()) => {
            Err(Refusal::GatewayToken)
        }
        _ => Ok(()),
    }
}

/// The gateway token (authenticated gateway) and then the provider key.
fn authorized(state: &State, req: &Request, surface: Surface) -> Result<(), Refusal> {
    let config = &state.config;
    if surface == Surface::Gateway {
        authorized_gateway(state, req)?;
    }
    match bearer(req.header("authorization")) {
        Some(key) if config.api_keys.is_empty() || config.api_keys.iter().any(|k| k == key) => {
            Ok(())
        }
        _ => Err(Refusal::ProviderKey),
    }
}

fn envelope(code: i64, message: &str) -> Value {
    json!({
        "success": false,
        "result": [],
        "messages": [],
        "error": [{"code": code, "message": message}],
    })
}

fn openai_error(message: &str, kind: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "code": code}})
}

/// The gateway's 401 (code 2009) for its own token; the provider's 401 for a key, as OpenAI
/// words it (without quoting the key: `echo_secrets` does that).
fn unauthorized(reply: &mut Reply, refusal: Refusal) -> Next {
    match refusal {
        Refusal::GatewayToken => reply.json(401, &envelope(2009, "Unauthorized")),
        Refusal::ProviderKey => reply.json(
            401,
            &openai_error(
                "Incorrect API key provided",
                "invalid_request_error",
                "invalid_api_key",
            ),
        ),
    }
}

pub(crate) fn bad_fault(reply: &mut Reply, message: &str) -> Next {
    reply.json(400, &openai_error(message, "mock_error", "mock_bad_fault"))
}

/// All `x-mock-fault` header values joined into one spec.
pub(crate) fn header_fault_spec(req: &Request) -> String {
    req.headers
        .iter()
        .filter(|(n, _)| n == "x-mock-fault")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// The credentials a request carried, quoted the way upstreams echo them back.
fn echoed_credentials(req: &Request) -> String {
    [
        "authorization",
        "x-api-key",
        "cf-aig-authorization",
        "proxy-authorization",
    ]
    .iter()
    .filter_map(|name| req.header(name).map(|v| format!("{name}={v}")))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Parses the request's faults for `route`, with tag/times applied and echoes filled in.
pub(crate) fn request_faults(
    state: &State,
    req: &Request,
    spec: &str,
    route: Route,
) -> Result<Faults, String> {
    let mut faults = gate(state, route, Faults::parse(spec, route)?);
    if faults.echo_secrets || faults.echo_plain {
        faults.echo = Some(echoed_credentials(req));
    }
    Ok(faults)
}

/// Applies `tag`/`times`: after a tag has been seen `times` times its faults stop applying.
fn gate(state: &State, route: Route, faults: Faults) -> Faults {
    if !faults.any || (faults.tag.is_none() && faults.times.is_none()) {
        return faults;
    }
    let key = format!("{route:?}:{}", faults.tag.as_deref().unwrap_or(""));
    let seen = {
        let mut counts = lock(&state.tag_counts);
        let count = counts.entry(key).or_insert(0);
        *count += 1;
        *count
    };
    match faults.times {
        Some(times) if seen > times => Faults::default(),
        _ => faults,
    }
}

/// Splits serialized JSON around the first `PLACEHOLDER`, so raw bytes can take its place
/// inside the string literal; `None` if absent.
fn split_at_placeholder(json: &[u8]) -> Option<(&[u8], &[u8])> {
    let needle = PLACEHOLDER.as_bytes();
    let at = json.windows(needle.len()).position(|w| w == needle)?;
    Some((&json[..at], &json[at + needle.len()..]))
}

/// Serializes `body` with every `PLACEHOLDER` replaced by `raw` (e.g. bytes that are not UTF-8).
pub(crate) fn with_raw_bytes(body: &Value, raw: &[u8]) -> Vec<u8> {
    let text = body.to_string();
    let mut rest = text.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    // Each pass consumes one placeholder, so this ends.
    while let Some((before, after)) = split_at_placeholder(rest) {
        out.extend_from_slice(before);
        out.extend_from_slice(raw);
        rest = after;
    }
    out.extend_from_slice(rest);
    out
}

/// The faults both endpoints share, in the order they show on the wire. `None` means the
/// endpoint should answer (possibly with its own body faults).
pub(crate) fn common_faults(reply: &mut Reply, faults: &Faults) -> Option<Next> {
    // The mock's own request id goes first, so a scripted `header=x-request-id:…` replaces it.
    if faults.no_request_id {
        reply.headers.retain(|(n, _)| n != "x-request-id");
    }
    for (name, value) in &faults.headers {
        reply.set_header(name, value.clone());
    }
    if faults.spending_limit {
        let body = json!({"success": false, "error": {"message": "Spending limit exceeded",
            "bucket": "mock-bucket", "spent": 1000.42, "limit": 1000}});
        return Some(reply.json(429, &body));
    }
    if faults.policy_denied {
        let body = json!({"success": false, "error": {"message": "Access denied by policy"}});
        return Some(reply.json(403, &body));
    }
    if let Some(secs) = faults.retry_after {
        reply.set_header("retry-after", secs.to_string());
    }
    if let Some(secs) = faults.retry_after_date {
        reply.set_header(
            "retry-after",
            http::http_date(http::unix_now().saturating_add(secs)),
        );
    }
    if let Some(ms) = faults.retry_after_ms {
        reply.set_header("retry-after-ms", ms.to_string());
    }
    if let Some(ms) = faults.delay_ms {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if faults.reset_before_headers {
        return Some(Next::Abort);
    }
    if faults.malformed_http {
        let _ = reply
            .w
            .write_all(b"HTTP/1.1 two-hundred OK\r\ncontent-length: 2\r\n\r\n{}")
            .and_then(|()| reply.w.flush());
        return Some(Next::Abort);
    }
    if faults.redirect {
        reply.set_header(
            "location",
            "https://elsewhere.example/v1/chat/completions".to_string(),
        );
        return Some(reply.send(307, "text/plain", b"moved"));
    }
    if faults.headers_no_body {
        let extra = [
            ("content-type", "application/json".to_string()),
            ("content-length", "100".to_string()),
        ];
        let _ = reply.start(200, &extra);
        return Some(Next::Abort);
    }
    if faults.truncated_chunked {
        let extra = [
            ("content-type", "application/json".to_string()),
            ("transfer-encoding", "chunked".to_string()),
        ];
        // The chunk header promises 0x400 bytes; far fewer follow before the close.
        let _ = reply
            .start(200, &extra)
            .and_then(|()| reply.w.write_all(b"400\r\n{\"id\":\"chatcmpl-trunc"))
            .and_then(|()| reply.w.flush());
        return Some(Next::Abort);
    }
    if faults.wants_error() {
        let status = faults.status.unwrap_or(400);
        if let (true, Some(echo)) = (faults.echo_plain, &faults.echo) {
            let body = format!("{} refused {echo}", "x".repeat(180));
            return Some(reply.send(status, "text/plain", body.as_bytes()));
        }
        let body = if faults.v4_errors {
            json!({
                "success": false,
                "errors": [{"code": 10000, "message": "Authentication error"}],
                "messages": [],
                "result": null,
            })
        } else if let Some(code) = faults.envelope {
            envelope(code, &format!("mock envelope {code}"))
        } else {
            let code = match &faults.error_code {
                Some(code) => code.clone(),
                None => format!("mock_{status}"),
            };
            let message = match &faults.echo {
                Some(echo) => format!("Incorrect API key provided: {echo}"),
                None => format!("mock status {status}"),
            };
            openai_error(&message, "mock_error", &code)
        };
        return Some(reply.json(status, &body));
    }
    if faults.malformed_json {
        return Some(reply.send(200, "application/json", br#"{"id": "x", "choices": ["#));
    }
    if faults.not_openai_shape {
        return Some(reply.json(200, &json!({"hello": "world"})));
    }
    if let Some(depth) = faults.deep_json {
        let body = format!(
            r#"{{"id":"deep","object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":"deep"}},"finish_reason":"stop"}}],"x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        return Some(reply.send(200, "application/json", body.as_bytes()));
    }
    None
}

/// A valid JSON body whose placeholder string becomes `mib` MiB of `a`, written piecewise;
/// stops quietly when the client goes away.
fn send_huge(reply: &mut Reply, template: &Value, mib: u64) -> Next {
    let text = template.to_string();
    let Some((before, after)) = split_at_placeholder(text.as_bytes()) else {
        return reply.json(200, template);
    };
    let length = before.len() as u64 + mib * MIB + after.len() as u64;
    let extra = [
        ("content-type", "application/json".to_string()),
        ("content-length", length.to_string()),
    ];
    let piece = vec![b'a'; HUGE_PIECE];
    let pieces = mib * MIB / HUGE_PIECE as u64;
    let written = reply
        .start(200, &extra)
        .and_then(|()| reply.w.write_all(before))
        .and_then(|()| (0..pieces).try_for_each(|_| reply.w.write_all(&piece)))
        .and_then(|()| reply.w.write_all(after))
        .and_then(|()| reply.w.flush());
    match written {
        Ok(()) => reply.done(),
        Err(_) => Next::Close,
    }
}

/// Catalog prices (USD per million tokens) so cost-based model ranking has something to rank.
/// Catalog prices in USD per token, Cloudflare's unit for `cost_in` / `cost_out`.
fn prices(id: &str) -> (f64, f64) {
    match id {
        "openai/gpt-4o-mini" => (0.000_000_15, 0.000_000_6),
        "openai/gpt-4o" => (0.000_002_5, 0.000_01),
        "workers-ai/@cf/meta/llama-3.1-8b-instruct" => (0.000_000_045, 0.000_000_384),
        _ => (0.000_001, 0.000_002),
    }
}

fn catalog(models: &[String]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (cost_in, cost_out) = prices(id);
            json!({
                "id": id,
                "object": "model",
                "created_at": 1_700_000_000 + 86_400 * i as u64,
                "cost_in": cost_in,
                "cost_out": cost_out,
                "owned_by": id.split('/').next().unwrap_or(id),
            })
        })
        .collect();
    json!({"object": "list", "data": data})
}

fn models(state: &State, reply: &mut Reply, req: &Request, surface: Surface) -> Next {
    if let Err(refusal) = authorized(state, req, surface) {
        return unauthorized(reply, refusal);
    }
    let faults = match request_faults(state, req, &header_fault_spec(req), Route::Models) {
        Ok(faults) => faults,
        Err(message) => return bad_fault(reply, &message),
    };
    if let Some(next) = common_faults(reply, &faults) {
        return next;
    }
    if let Some(mib) = faults.huge_body_mib {
        return send_huge(
            reply,
            &json!({"object": "list", "data": [], "padding": PLACEHOLDER}),
            mib,
        );
    }
    let mut models = state.config.models.clone();
    if faults.invalid_utf8_json {
        models.push(PLACEHOLDER.to_string());
        let body = with_raw_bytes(&catalog(&models), &[0xff, 0xfe]);
        return reply.send(200, "application/json", &body);
    }
    reply.json(200, &catalog(&models))
}

/// A chat answer, shared by the JSON and SSE shapes.
pub(crate) struct Answer {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub content: String,
    /// `(name, arguments)` of the one tool call the answer makes instead of text.
    pub tool_call: Option<(String, String)>,
    prompt_tokens: usize,
    /// A scripted `usage` object replacing the word counts.
    usage: Option<Value>,
    /// The request asked for a usage chunk at the end of the stream.
    pub include_usage: bool,
}

impl Answer {
    pub fn completion(&self) -> Value {
        let (message, finish) = match &self.tool_call {
            Some((name, args)) => (
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "id": self.tool_call_id(),
                    "type": "function",
                    "function": {"name": name, "arguments": args},
                }]}),
                "tool_calls",
            ),
            None => (
                json!({"role": "assistant", "content": self.content}),
                "stop",
            ),
        };
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": finish,
            }],
            "usage": self.usage(),
        })
    }

    /// The answer's `usage`: scripted, or word counts standing in for tokens.
    pub fn usage(&self) -> Value {
        if let Some(usage) = &self.usage {
            return usage.clone();
        }
        let completion_tokens = word_count(&self.content);
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }

    /// The id of the answer's tool call.
    pub fn tool_call_id(&self) -> String {
        format!("call_{}", self.id)
    }

    fn with_content(&self, content: &str) -> Value {
        let mut completion = self.completion();
        completion["choices"][0]["message"]["content"] = Value::String(content.to_string());
        completion
    }
}

/// Token counts are a deterministic stand-in (words), good enough for usage plumbing tests.
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Text of a message `content`: a string, or the `text` parts of an array of parts.
fn message_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

fn answer_text(faults: &Faults, messages: &[Value]) -> String {
    if let Some(content) = &faults.content {
        return content.clone();
    }
    if let Some(len) = faults.content_len {
        return CONTENT_LEN_CYCLE.chars().cycle().take(len).collect();
    }
    if faults.utf8_split {
        return UTF8_SPLIT_TEXT.repeat(2);
    }
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| message_text(m.get("content")))
        .unwrap_or_default();
    format!("echo: {last_user}")
}

/// `provider/model` with a provider the gateway knows.
fn valid_provider(model: &str) -> bool {
    match model.split_once('/') {
        Some((provider, name)) => !name.is_empty() && PROVIDERS.contains(&provider),
        None => false,
    }
}

fn chat(state: &State, reply: &mut Reply, req: &Request, number: u64, surface: Surface) -> Next {
    if let Err(refusal) = authorized(state, req, surface) {
        return unauthorized(reply, refusal);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return reply.json(
            400,
            &openai_error(
                "request body is not valid JSON",
                "invalid_request_error",
                "invalid_json",
            ),
        );
    };
    let Some(request) = body.as_object() else {
        return reply.json(
            400,
            &openai_error(
                "request body must be a JSON object",
                "invalid_request_error",
                "invalid_request",
            ),
        );
    };

    let mut spec = header_fault_spec(req);
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    let answer_model = if let Some(model_spec) = model.strip_prefix("mock/") {
        spec.push(';');
        spec.push_str(model_spec);
        MOCK_MODEL_ANSWER
    } else if !valid_provider(model) {
        return reply.json(400, &envelope(2008, "Invalid provider"));
    } else if !state.config.models.iter().any(|m| m == model) {
        let body = json!({"error": {
            "message": format!("The model `{model}` does not exist or you do not have access to it."),
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }});
        return reply.json(404, &body);
    } else {
        model
    };
    let faults = match request_faults(state, req, &spec, Route::Chat) {
        Ok(faults) => faults,
        Err(message) => return bad_fault(reply, &message),
    };

    if faults.reject_stream_options && request.contains_key("stream_options") {
        return reply.json(
            400,
            &json!({"error": {
                "message": "Unrecognized request argument supplied: stream_options",
                "type": "invalid_request_error",
                "param": "stream_options",
                "code": null,
            }}),
        );
    }
    let cache_hit = remember_body(state, req);
    if cache_hit {
        reply.set_header("cf-aig-cache-status", "HIT".to_string());
    }
    if let Some(next) = common_faults(reply, &faults) {
        return next;
    }

    let messages = match request.get("messages") {
        Some(Value::Array(messages)) => messages.as_slice(),
        _ => &[],
    };
    let answer = Answer {
        id: format!("chatcmpl-mock-{number}"),
        created: http::unix_now(),
        model: answer_model.to_string(),
        content: answer_text(&faults, messages),
        tool_call: faults.tool_call.clone(),
        usage: faults.usage.clone(),
        include_usage: request
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            == Some(&Value::Bool(true)),
        prompt_tokens: messages
            .iter()
            .map(|m| word_count(&message_text(m.get("content"))))
            .sum(),
    };

    if let Some(mib) = faults.huge_body_mib {
        return send_huge(reply, &answer.with_content(PLACEHOLDER), mib);
    }
    if faults.invalid_utf8_json {
        let body = with_raw_bytes(&answer.with_content(PLACEHOLDER), &[0xff, 0xfe]);
        return reply.send(200, "application/json", &body);
    }
    let stream = request.get("stream") == Some(&Value::Bool(true));
    if stream && !faults.json_for_stream {
        return crate::stream::send(reply, &answer, &faults);
    }
    reply.json(200, &answer.completion())
}

/// Records the body for the (deliberately simple) cache and says whether this request is a
/// hit: a `cf-aig-cache-ttl` without `cf-aig-skip-cache`, and the same path and body seen before.
fn remember_body(state: &State, req: &Request) -> bool {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    let mut hasher = DefaultHasher::new();
    req.path().hash(&mut hasher);
    req.body.hash(&mut hasher);
    let seen_before = !lock(&state.seen_bodies).insert(hasher.finish());
    let cacheable =
        req.header("cf-aig-cache-ttl").is_some() && req.header("cf-aig-skip-cache").is_none();
    cacheable && seen_before
}

/// Dimensions of the mock's embeddings.
const EMBEDDING_DIMS: usize = 8;

/// A deterministic unit-free vector for `text` (FNV-1a bytes folded into the dimensions), so
/// equal inputs give equal vectors and tests can compare them.
fn embedding_of(text: &str) -> Vec<f64> {
    let mut v = [0f64; EMBEDDING_DIMS];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, b) in text.bytes().enumerate() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        v[i % EMBEDDING_DIMS] += (h % 1000) as f64 / 1000.0;
    }
    v.iter().map(|x| (x * 1000.0).round() / 1000.0).collect()
}

/// `POST …/embeddings`: one vector per input string, usage in words, any `provider/model` the
/// gateway knows (or `mock/<faults>`); faults as for chat.
fn embeddings(state: &State, reply: &mut Reply, req: &Request, surface: Surface) -> Next {
    if let Err(refusal) = authorized(state, req, surface) {
        return unauthorized(reply, refusal);
    }
    let Some(request) = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .filter(Value::is_object)
    else {
        return reply.json(
            400,
            &openai_error(
                "request body must be a JSON object",
                "invalid_request_error",
                "invalid_json",
            ),
        );
    };
    let mut spec = header_fault_spec(req);
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    if let Some(model_spec) = model.strip_prefix("mock/") {
        spec.push(';');
        spec.push_str(model_spec);
    } else if !valid_provider(model) {
        return reply.json(400, &envelope(2008, "Invalid provider"));
    }
    let faults = match request_faults(state, req, &spec, Route::Embeddings) {
        Ok(faults) => faults,
        Err(message) => return bad_fault(reply, &message),
    };
    if let Some(next) = common_faults(reply, &faults) {
        return next;
    }
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect(),
        _ => {
            return reply.json(
                400,
                &openai_error(
                    "`input` is required",
                    "invalid_request_error",
                    "missing_input",
                ),
            )
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": embedding_of(text)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| word_count(t)).sum();
    let usage = faults
        .usage
        .clone()
        .unwrap_or_else(|| json!({"prompt_tokens": tokens, "total_tokens": tokens}));
    reply.json(
        200,
        &json!({"object": "list", "model": model, "data": data, "usage": usage}),
    )
}
