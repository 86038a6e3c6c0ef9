//! The client: a resolved profile (route, credentials, headers) plus one keep-alive agent and a
//! catalog cache. `Send + Sync`; every method may be called from many threads at once.
//! Building a client does no network I/O.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::auth::{is_sensitive_header, resolve_credentials, Credentials, Env, Headers};
use crate::cancel::{cancelled_error, CancelToken};
use crate::catalog::{model_id, parse_models, rank, CatalogCache};
use crate::error::{Attempt, Error, ErrorCode, Result};
use crate::gateway::GatewayOptions;
use crate::profile::{ConfigFile, Fields, Profile};
use crate::registry::{resolve_kind, ProtocolFamily, ProviderKind};
use crate::route::{resolve_route, Route};
use crate::scrub::Scrubber;
use crate::stream::ChatStream;
use crate::transport::{self, AgentCell, Deadline, Outgoing};

/// The recovery text of docs/contract.md §5, used by selection errors and `doctor()`.
pub const LIST_MODELS_RECOVERY: &str =
    "list-models is unreliable for this account or region: pin an explicit provider.model or add preferred_models";

/// Per-request options (docs/contract.md §6): gateway options merged over the client's, extra headers,
/// and a timeout replacing `request_timeout_ms` for this call.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Gateway options; set fields win over the client's.
    pub gateway: Option<GatewayOptions>,
    /// Extra headers; they win over the client's of the same name.
    pub headers: Headers,
    /// Replaces `request_timeout_ms` for this call.
    pub timeout_ms: Option<u64>,
    /// Cancels this call from another thread (not part of the JSON form).
    pub cancel: Option<CancelToken>,
}

impl RequestOptions {
    /// Parses `{ "gateway": {…}, "headers": {…}, "timeout_ms": n }` (`timeoutMs` also accepted).
    pub fn from_value(value: &Value) -> Result<RequestOptions> {
        let mut f = Fields::new(value, "options")?;
        let gateway = match f.take("gateway") {
            Some(v) => Some(GatewayOptions::from_value(v, "options.gateway")?),
            None => None,
        };
        let headers = Headers::from_pairs(f.string_map("headers")?, "options.headers")?;
        let timeout_ms = match f.u64("timeout_ms")? {
            Some(t) => Some(t),
            None => f.u64("timeoutMs")?,
        };
        f.finish()?;
        Ok(RequestOptions {
            gateway,
            headers,
            timeout_ms: timeout_ms.map(|t| t.clamp(1, 3_600_000)),
            cancel: None,
        })
    }

    /// Parses options given as JSON text; empty text means none.
    pub fn from_json_str(text: &str) -> Result<RequestOptions> {
        if text.trim().is_empty() {
            return Ok(RequestOptions::default());
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid_argument(format!("options are not valid JSON: {e}")))?;
        RequestOptions::from_value(&value)
    }
}

/// One logical request: where, what, and under which deadline.
#[derive(Clone, Copy)]
struct Call<'a> {
    url: &'a str,
    body: Option<&'a [u8]>,
    model: &'a str,
    options: &'a RequestOptions,
    deadline: Deadline,
    accept: &'a str,
    cancel: Option<&'a CancelToken>,
}

pub(crate) struct Inner {
    pub(crate) profile: Profile,
    pub(crate) kind: &'static ProviderKind,
    pub(crate) route: Route,
    pub(crate) credentials: Result<Credentials>,
    pub(crate) env: Env,
    /// Replaced after a fork, so a child never shares its parent's connections.
    agent: AgentCell,
    /// Every secret this client sends, kept out of texts built from upstream bytes.
    scrubber: Scrubber,
    pub(crate) catalog: CatalogCache,
    /// Headers sent on every request except auth: kind defaults, then the profile's.
    pub(crate) base_headers: Vec<(String, String)>,
    /// The client-level `cf-aig-*` headers (resolved once).
    pub(crate) gateway_headers: Result<Vec<(&'static str, String)>>,
    /// Pool index to start from: moves forward when a key is refused.
    pub(crate) key_cursor: AtomicUsize,
}

/// An aigw client. Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("kind", &self.inner.kind.id)
            .field("route", &self.inner.route)
            .field(
                "credentials",
                &self.inner.credentials.as_ref().map(|c| c.source.label()),
            )
            .finish()
    }
}

impl Client {
    /// Builds a client reading credentials from the process environment.
    pub fn new(profile: Profile) -> Result<Client> {
        Client::with_env(profile, Env::process())
    }

    /// Builds a client from a profile JSON text (the C ABI's form).
    pub fn from_json_str(profile_json: &str) -> Result<Client> {
        Client::new(Profile::from_json_str(profile_json)?)
    }

    /// Builds a client from a config file and an optional profile id (docs/contract.md §3 selection).
    pub fn from_config(path: &Path, profile_id: Option<&str>) -> Result<Client> {
        let (_, profile) = ConfigFile::load(path)?.select(profile_id)?;
        Client::new(profile)
    }

    /// Builds a client with an explicit environment (tests, embedding).
    ///
    /// Fails on an unknown kind, a malformed or plain-http URL, or bad headers. Unresolved
    /// placeholders and missing credentials do not fail here: they fail every network call.
    pub fn with_env(profile: Profile, env: Env) -> Result<Client> {
        let profile = profile.clamped();
        if profile
            .api_key_env
            .as_deref()
            .is_some_and(|name| !crate::auth::is_env_name(name))
        {
            // Not echoed: a key pasted here by mistake must not reach a message.
            return Err(Error::config(
                "provider.api_key_env must name an environment variable ([A-Za-z_][A-Za-z0-9_]*); the value given is not one (not shown, in case it is a key)",
            ));
        }
        let kind = resolve_kind(&profile.kind)?;
        let route = resolve_route(&profile, kind)?;
        let credentials = resolve_credentials(&profile, kind, &env);
        if let Ok(c) = &credentials {
            crate::auth::check_keys(c)?;
        }
        let mut base_headers: Vec<(String, String)> = kind
            .default_headers
            .iter()
            .filter(|(n, _)| profile.headers.get(n).is_none())
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        base_headers.extend(
            profile
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string())),
        );
        let gateway_headers = profile.gateway.headers(&env);
        if let Err(e) = &gateway_headers {
            // A token that cannot be sent is a configuration error now; a missing one (which a
            // later environment may supply) fails each call instead.
            if e.code == ErrorCode::Config {
                return Err(e.clone());
            }
        }
        let agent = AgentCell::new(transport::build_agent(&profile, &env)?);
        let scrubber = client_scrubber(&credentials, &base_headers, &gateway_headers, &env);
        Ok(Client {
            inner: Arc::new(Inner {
                profile,
                kind,
                route,
                credentials,
                env,
                agent,
                scrubber,
                catalog: CatalogCache::default(),
                base_headers,
                gateway_headers,
                key_cursor: AtomicUsize::new(0),
            }),
        })
    }

    /// The profile after defaults and clamps.
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The registry entry of this client's kind.
    pub fn kind(&self) -> &'static ProviderKind {
        self.inner.kind
    }

    /// The resolved route.
    pub fn route(&self) -> &Route {
        &self.inner.route
    }

    /// The resolved credentials, or the `MISSING_CREDENTIALS` error every call will return.
    pub fn credentials(&self) -> &Result<Credentials> {
        &self.inner.credentials
    }

    /// The checks every network call makes before any I/O.
    fn preflight(&self, chat: bool) -> Result<&Credentials> {
        self.inner.route.ensure_resolved()?;
        if chat && self.inner.kind.protocol_family != ProtocolFamily::OpenaiChatCompletions {
            return Err(Error::new(
                ErrorCode::Unsupported,
                format!(
                    "chat for {} ({}) is not supported yet; describe() and list_models() work",
                    self.inner.kind.id,
                    self.inner.kind.protocol_family.as_str()
                ),
            ));
        }
        self.inner.credentials.as_ref().map_err(Clone::clone)
    }

    fn headers_for(
        &self,
        credentials: &Credentials,
        key_index: usize,
        gateway: &[(&'static str, String)],
        options: &RequestOptions,
        accept: &str,
        json_body: bool,
    ) -> Vec<(String, String)> {
        let mut h = Vec::with_capacity(self.inner.base_headers.len() + gateway.len() + 4);
        h.push(("Accept".to_string(), accept.to_string()));
        if json_body {
            h.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        h.extend(self.inner.base_headers.iter().cloned());
        if let Some((name, value)) = credentials.auth_header(key_index) {
            if self.inner.profile.headers.get(name).is_none() && options.headers.get(name).is_none()
            {
                h.push((name.to_string(), value));
            }
        }
        h.extend(gateway.iter().map(|(n, v)| (n.to_string(), v.clone())));
        for (name, value) in options.headers.iter() {
            h.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            h.push((name.to_string(), value.to_string()));
        }
        if self.inner.route.account_id.is_some() {
            // A Cloudflare route: the caller's W3C trace context becomes the gateway's.
            crate::gateway::fill_otel_from_traceparent(&mut h);
        }
        h
    }

    fn gateway_headers(&self, options: &RequestOptions) -> Result<Vec<(&'static str, String)>> {
        match &options.gateway {
            Some(over) if !over.is_empty() => self
                .inner
                .profile
                .gateway
                .merged(over)
                .headers(&self.inner.env),
            _ => self.inner.gateway_headers.clone(),
        }
    }

    /// The client's scrubber plus the secrets this call adds (its own headers and gateway token).
    fn call_scrubber(
        &self,
        options: &RequestOptions,
        gateway: &[(&'static str, String)],
    ) -> std::borrow::Cow<'_, Scrubber> {
        let from_options = options
            .headers
            .iter()
            .filter(|(n, _)| is_sensitive_header(n))
            .map(|(_, v)| v);
        let from_gateway = gateway
            .iter()
            .filter(|(n, _)| is_sensitive_header(n))
            .map(|(_, v)| v.as_str());
        self.inner
            .scrubber
            .with_values(from_options.chain(from_gateway))
    }

    /// Scrubs an error leaving the client: every public call ends here, so no text built from
    /// upstream bytes reaches a caller with a secret of this client (or of this call) in it.
    fn scrubbed<T>(&self, result: Result<T>, options: &RequestOptions) -> Result<T> {
        result.map_err(|e| {
            let gateway = self.gateway_headers(options).unwrap_or_default();
            self.call_scrubber(options, &gateway).scrub_error(e)
        })
    }

    /// Sends one call with retries (docs/contract.md §6), appending to `attempts`. On failure returns the
    /// last error (history attached) and whether it was model-shaped (next candidate may work).
    fn send_with_retries(
        &self,
        call: &Call<'_>,
        attempts: &mut Vec<Attempt>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, (Error, bool)> {
        let Call {
            url,
            body,
            model,
            options,
            deadline,
            accept,
            cancel,
        } = *call;
        // A models probe of a kind whose catalog needs no key goes out without one.
        let anonymous;
        let credentials = match self.preflight(false) {
            Err(e)
                if call.body.is_none()
                    && e.code == ErrorCode::MissingCredentials
                    && self.inner.kind.model_probe_auth_optional =>
            {
                anonymous = Credentials::none(self.inner.kind.auth_scheme);
                &anonymous
            }
            other => other.map_err(|e| (e, false))?,
        };
        let gateway = self.gateway_headers(options).map_err(|e| (e, false))?;
        let scrubber = self.call_scrubber(options, &gateway);
        let agent = self
            .inner
            .agent
            .get(|| transport::build_agent(&self.inner.profile, &self.inner.env))
            .map_err(|e| (e, false))?;
        let p = &self.inner.profile;
        let pool = credentials.pool_size().max(1);
        let mut key_index = self.inner.key_cursor.load(Ordering::Relaxed) % pool;
        let mut keys_tried = 1usize;
        let mut retries = 0u32;
        let mut delay_ms = 0u64;
        loop {
            let slept = match cancel {
                Some(token) => token.sleep(Duration::from_millis(delay_ms)),
                None => {
                    std::thread::sleep(Duration::from_millis(delay_ms));
                    true
                }
            };
            if !slept || cancel.is_some_and(CancelToken::is_cancelled) {
                return Err((with_attempts(cancelled_error("request"), attempts), false));
            }
            let headers = self.headers_for(
                credentials,
                key_index,
                &gateway,
                options,
                accept,
                body.is_some(),
            );
            let out = Outgoing {
                method: if body.is_some() { "POST" } else { "GET" },
                url,
                headers: &headers,
                body,
                deadline,
                cancel,
                scrubber: &scrubber,
            };
            let mut attempt = Attempt {
                status: None,
                error: None,
                model: model.to_string(),
                key_index,
                delay_ms,
            };
            let retry_budget_left = u64::from(retries) + 1 < p.retry_max_attempts;
            match transport::send(&agent, &out) {
                Ok(response) if response.status().is_success() => {
                    attempt.status = Some(response.status().as_u16());
                    attempts.push(attempt);
                    return Ok(response);
                }
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let bytes = transport::read_body(response.body_mut(), 1 << 20, url, deadline)
                        .unwrap_or_default();
                    let (mut err, parsed) =
                        transport::status_error(status, response.headers(), &bytes, url, &scrubber);
                    attempt.status = Some(status);
                    attempt.error = Some(err.code);
                    attempts.push(attempt);
                    // The gateway's own refusals (its token, spending limit, policy) are the same
                    // whichever provider key is sent, and retrying does not lift them.
                    if transport::GatewayRefusal::of(status, &parsed).is_some() {
                        err.attempts = attempts.clone();
                        return Err((err, false));
                    }
                    if matches!(status, 401 | 403 | 429) && keys_tried < pool {
                        key_index = (key_index + 1) % pool;
                        keys_tried += 1;
                        self.inner.key_cursor.store(key_index, Ordering::Relaxed);
                        delay_ms = 0;
                        continue;
                    }
                    if !transport::retryable_status(status, parsed.code.as_deref())
                        || !retry_budget_left
                    {
                        err.attempts = attempts.clone();
                        return Err((err, transport::model_shaped(status, &parsed)));
                    }
                    match err.retry_after_ms {
                        Some(server) if server > p.retry_max_backoff_ms => {
                            err.message.push_str(&format!(
                                "; the server asked to wait {server} ms, more than retry_max_backoff_ms ({} ms), so aigw did not wait",
                                p.retry_max_backoff_ms
                            ));
                            err.attempts = attempts.clone();
                            return Err((err, false));
                        }
                        Some(server) => delay_ms = server,
                        None => {
                            delay_ms = transport::backoff_delay(
                                retries,
                                p.retry_initial_backoff_ms,
                                p.retry_max_backoff_ms,
                            )
                        }
                    }
                    retries += 1;
                }
                Err(mut err) => {
                    attempt.error = Some(err.code);
                    attempts.push(attempt);
                    let transient = matches!(err.code, ErrorCode::Timeout | ErrorCode::Connection);
                    if !transient || !retry_budget_left {
                        err.attempts = attempts.clone();
                        return Err((err, false));
                    }
                    delay_ms = transport::backoff_delay(
                        retries,
                        p.retry_initial_backoff_ms,
                        p.retry_max_backoff_ms,
                    );
                    retries += 1;
                }
            }
        }
    }

    fn request_deadline(&self, options: &RequestOptions) -> Duration {
        Duration::from_millis(
            options
                .timeout_ms
                .unwrap_or(self.inner.profile.request_timeout_ms),
        )
    }

    /// Lists the models of the catalog endpoint (cached per the profile's TTL).
    pub fn list_models(&self) -> Result<Vec<Value>> {
        let ttl = Duration::from_millis(self.inner.profile.model_catalog_cache_ttl_ms);
        if let Some(models) = self.inner.catalog.fresh(ttl) {
            return Ok(models.to_vec());
        }
        self.fetch_models()
    }

    /// Fetches the catalog now, bypassing the cache (and refreshing it).
    pub fn fetch_models(&self) -> Result<Vec<Value>> {
        let fetched = self.fetch_catalog().map(|models| models.to_vec());
        self.scrubbed(fetched, &RequestOptions::default())
    }

    fn fetch_catalog(&self) -> Result<Arc<Vec<Value>>> {
        self.inner.route.ensure_resolved()?;
        let url = self.inner.route.models_endpoint.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::Unsupported,
                format!(
                    "{} has no models endpoint; set provider.models_endpoint",
                    self.inner.kind.id
                ),
            )
        })?;
        if let Err(e) = &self.inner.credentials {
            if !self.inner.kind.model_probe_auth_optional {
                return Err(e.clone());
            }
        }
        let options = RequestOptions::default();
        let deadline = Deadline::Whole(self.request_deadline(&options));
        let mut attempts = Vec::new();
        let mut response = self
            .send_with_retries(
                &Call {
                    url: &url,
                    body: None,
                    model: "",
                    options: &options,
                    deadline,
                    accept: "application/json",
                    cancel: None,
                },
                &mut attempts,
            )
            .map_err(|(e, _)| e)?;
        let bytes = transport::read_body(
            response.body_mut(),
            self.inner.profile.max_response_bytes,
            &url,
            deadline,
        )?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::protocol(format!("models response from {url} is not valid JSON: {e}"))
        })?;
        let models = Arc::new(parse_models(&value)?);
        self.inner.catalog.store(models.clone());
        Ok(models)
    }

    /// Candidate models in order (docs/contract.md §5). `request_model` is the request body's `model`.
    pub fn select_models(&self, request_model: Option<&str>) -> Result<Vec<String>> {
        if let Some(m) = request_model.filter(|m| !m.trim().is_empty()) {
            return Ok(vec![m.to_string()]);
        }
        let p = &self.inner.profile;
        if let Some(m) = &p.model {
            return Ok(vec![m.clone()]);
        }
        let ttl = Duration::from_millis(p.model_catalog_cache_ttl_ms);
        let catalog = match self.inner.catalog.fresh(ttl) {
            Some(models) => Ok(models),
            None => self.fetch_catalog(),
        };
        let ids = |models: &[Value]| {
            models
                .iter()
                .filter_map(model_id)
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        match catalog {
            Ok(models) if models.is_empty() => Err(Error::new(
                ErrorCode::ModelSelection,
                "the model catalog is empty; set provider.model explicitly",
            )),
            Ok(models) => Ok(rank(&ids(&models), &p.preferred_models)),
            Err(e) => {
                let stale = Duration::from_millis(p.model_catalog_stale_if_error_ms);
                if let Some(models) = self.inner.catalog.stale(ttl, stale) {
                    return Ok(rank(&ids(&models), &p.preferred_models));
                }
                if !p.preferred_models.is_empty() {
                    return Ok(p.preferred_models.clone());
                }
                if matches!(e.code, ErrorCode::Config | ErrorCode::MissingCredentials) {
                    return Err(e);
                }
                let mut err = Error::new(
                    ErrorCode::ModelSelection,
                    format!(
                        "{LIST_MODELS_RECOVERY} (model catalog failed: {})",
                        e.message
                    ),
                );
                err.http_status = e.http_status;
                err.provider_code = e.provider_code;
                err.request_id = e.request_id;
                err.attempts = e.attempts;
                Err(err)
            }
        }
    }

    fn prepare(&self, request: Value, stream: bool) -> Result<(Map<String, Value>, Vec<String>)> {
        let Value::Object(mut body) = request else {
            return Err(Error::invalid_argument(
                "the chat request must be a JSON object",
            ));
        };
        self.preflight(true)?;
        let wants_stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        if wants_stream && !stream {
            return Err(Error::invalid_argument(
                "the request sets stream: true; call chat_stream instead of chat",
            ));
        }
        if stream {
            body.insert("stream".to_string(), Value::Bool(true));
        }
        let request_model = match body.get("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) => Some(m.clone()),
            Some(_) => {
                return Err(Error::invalid_argument(
                    "the request's `model` must be a string",
                ))
            }
        };
        let candidates = self.select_models(request_model.as_deref())?;
        Ok((body, candidates))
    }

    /// Sends a chat request (OpenAI JSON, passed through untouched but for `model`) and returns
    /// the upstream body with an added `"aigw"` metadata key (docs/contract.md §6).
    pub fn chat(&self, request: Value, options: &RequestOptions) -> Result<Value> {
        let answer = self
            .chat_raw(request, options)
            .and_then(|(raw, meta, url, attempts)| tree_with_meta(&raw, meta, url, &attempts));
        self.scrubbed(answer, options)
    }

    /// [`Client::chat`] returning JSON text, for bindings that hand text on (C, Node): the body
    /// is validated without being rebuilt and the `"aigw"` key is spliced in, saving a parse
    /// into a tree and a re-serialization per request. Same checks, same result.
    pub fn chat_text(&self, request: Value, options: &RequestOptions) -> Result<String> {
        let answer = self
            .chat_raw(request, options)
            .and_then(|(raw, meta, url, attempts)| spliced_text(&raw, meta, url, &attempts));
        self.scrubbed(answer, options)
    }

    /// Sends a non-streaming chat; returns the raw successful body, its metadata, the URL and
    /// the attempt history.
    fn chat_raw(
        &self,
        request: Value,
        options: &RequestOptions,
    ) -> Result<(Vec<u8>, Value, &str, Vec<Attempt>)> {
        let deadline = Deadline::Whole(self.request_deadline(options));
        let url = self.inner.route.request_endpoint.as_str();
        let (mut response, model, attempts) =
            self.send_to_candidates(request, false, options, deadline, options.cancel.as_ref())?;
        let raw = transport::read_body(
            response.body_mut(),
            self.inner.profile.max_response_bytes,
            url,
            deadline,
        )
        .map_err(|e| with_attempts(e, &attempts))?;
        let meta = response_meta(
            response.status().as_u16(),
            response.headers(),
            &model,
            &attempts,
        );
        Ok((raw, meta, url, attempts))
    }

    /// Opens a streaming chat (`stream: true`). Retries happen only before the stream is
    /// returned; once it is, no event is ever replayed.
    pub fn chat_stream(&self, request: Value, options: &RequestOptions) -> Result<ChatStream> {
        let deadline = Deadline::Stream {
            headers: self.request_deadline(options),
            idle: Duration::from_millis(self.inner.profile.stream_idle_timeout_ms),
        };
        let cancel = options.cancel.clone().unwrap_or_default();
        let opened = self.send_to_candidates(request, true, options, deadline, Some(&cancel));
        let (response, model, attempts) = self.scrubbed(opened, options)?;
        let meta = response_meta(
            response.status().as_u16(),
            response.headers(),
            &model,
            &attempts,
        );
        let gateway = self.gateway_headers(options).unwrap_or_default();
        Ok(ChatStream::open(
            response,
            meta,
            self.inner.route.request_endpoint.clone(),
            deadline,
            self.inner.profile.max_response_bytes,
            cancel,
            self.call_scrubber(options, &gateway).into_owned(),
        ))
    }

    /// Sends the chat to each candidate model in turn, with retries, moving on only after a
    /// model-shaped error (docs/contract.md §5); returns the first successful response (headers read), the
    /// model it used and every attempt.
    fn send_to_candidates(
        &self,
        request: Value,
        stream: bool,
        options: &RequestOptions,
        deadline: Deadline,
        cancel: Option<&CancelToken>,
    ) -> Result<(ureq::http::Response<ureq::Body>, String, Vec<Attempt>)> {
        let (mut body, candidates) = self.prepare(request, stream)?;
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let url = self.inner.route.request_endpoint.as_str();
        let mut attempts = Vec::new();
        let mut last_err = None;
        for (i, model) in candidates.iter().enumerate() {
            body.insert("model".to_string(), Value::String(model.clone()));
            let bytes = serde_json::to_vec(&body)
                .map_err(|e| Error::invalid_argument(format!("request cannot be encoded: {e}")))?;
            let call = Call {
                url,
                body: Some(&bytes),
                model,
                options,
                deadline,
                accept,
                cancel,
            };
            match self.send_with_retries(&call, &mut attempts) {
                Ok(response) => return Ok((response, model.clone(), attempts)),
                Err((err, model_shaped)) => {
                    let fall_forward = model_shaped && i + 1 < candidates.len();
                    last_err = Some(err);
                    if !fall_forward {
                        break;
                    }
                }
            }
        }
        Err(last_err
            .unwrap_or_else(|| Error::new(ErrorCode::ModelSelection, "no candidate model to try")))
    }

    /// The operator descriptor (docs/contract.md §9); no network.
    pub fn describe(&self) -> Value {
        crate::diagnostics::describe(self)
    }

    /// The operator checks (docs/contract.md §9); probes the models endpoint.
    pub fn doctor(&self) -> Value {
        crate::diagnostics::doctor(self)
    }
}

/// A successful chat body as text with the `"aigw"` metadata spliced in before its last `}`.
/// Bodies that are not plainly a chat completion (errors, odd shapes, an existing `"aigw"` key,
/// nesting deeper than the tree parser accepts) take the general path, so every language gets
/// the same answer or the same error.
fn spliced_text(raw: &[u8], meta: Value, url: &str, attempts: &[Attempt]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Shape {
        choices: Option<Vec<serde::de::IgnoredAny>>,
    }
    let text = std::str::from_utf8(raw).ok();
    let spliceable = text.filter(|t| {
        t.trim_end().ends_with('}')
            && !t.contains("\"aigw\"")
            && json_depth_within(t.as_bytes(), MAX_JSON_DEPTH)
            && serde_json::from_str::<Shape>(t).is_ok_and(|shape| shape.choices.is_some())
    });
    match spliceable {
        Some(t) => {
            let body = t.trim_end();
            let meta = meta.to_string();
            let mut out = String::with_capacity(body.len() + meta.len() + 10);
            out.push_str(&body[..body.len() - 1]);
            out.push_str(",\"aigw\":");
            out.push_str(&meta);
            out.push('}');
            Ok(out)
        }
        None => tree_with_meta(raw, meta, url, attempts).map(|v| v.to_string()),
    }
}

/// serde_json's nesting limit for trees; every path applies it, spliced or not.
const MAX_JSON_DEPTH: usize = 128;

/// Whether no array or object in `json` nests deeper than `max` (strings skipped): one linear
/// pass, so the splice path refuses what the tree parser refuses.
fn json_depth_within(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Parses a successful chat body, checks its shape and adds the `"aigw"` metadata.
fn tree_with_meta(raw: &[u8], meta: Value, url: &str, attempts: &[Attempt]) -> Result<Value> {
    let mut value: Value = serde_json::from_slice(raw).map_err(|e| {
        with_attempts(
            Error::protocol(format!("chat response from {url} is not valid JSON: {e}")),
            attempts,
        )
    })?;
    check_chat_shape(&value, url).map_err(|e| with_attempts(e, attempts))?;
    if let Value::Object(map) = &mut value {
        map.insert("aigw".to_string(), meta);
    }
    Ok(value)
}

fn with_attempts(mut e: Error, attempts: &[Attempt]) -> Error {
    e.attempts = attempts.to_vec();
    e
}

/// A 200 chat answer must at least be an object with `choices` (or an `error` we surface).
fn check_chat_shape(value: &Value, url: &str) -> Result<()> {
    let Value::Object(map) = value else {
        return Err(Error::protocol(format!(
            "chat response from {url} is not a JSON object"
        )));
    };
    if map.get("choices").is_some_and(Value::is_array) {
        return Ok(());
    }
    if map.contains_key("error") || map.contains_key("errors") {
        let parsed = crate::gateway::parse_error_value(value);
        let mut err = Error::new(
            ErrorCode::Provider,
            format!(
                "upstream error in a 200 answer from {url}: {}",
                parsed.message.unwrap_or_default()
            ),
        );
        err.provider_code = parsed.code;
        return Err(err);
    }
    Err(Error::protocol(format!(
        "chat response from {url} is not a chat completion (no `choices` list)"
    )))
}

/// The `"aigw"` metadata object (docs/contract.md §6).
pub(crate) fn response_meta(
    status: u16,
    headers: &ureq::http::HeaderMap,
    model: &str,
    attempts: &[Attempt],
) -> Value {
    let h = |name: &str| transport::header(headers, name).map(str::to_string);
    let (request_id_header, request_id) = match transport::request_id_with_header(headers) {
        Some((name, id)) => (Some(name), Some(id)),
        None => (None, None),
    };
    let mut meta = serde_json::json!({
        "status": status,
        "model": model,
        "request_id": request_id,
        "request_id_header": request_id_header,
        "cf_aig_log_id": h("cf-aig-log-id"),
        "cache_status": h("cf-aig-cache-status"),
        "step": h("cf-aig-step"),
        "attempts": attempts.iter().map(Attempt::to_json).collect::<Vec<_>>(),
    });
    // Present only when the gateway sent them (Cloudflare 2026: dynamic routes, Auto Router).
    let optional = [
        ("event_id", "cf-aig-event-id"),
        ("gateway_request_id", "cf-aig-request-id"),
        ("upstream_model", "cf-aig-model"),
        ("upstream_provider", "cf-aig-provider"),
        ("routed_model", "cf-aig-routed-model"),
        ("routing_reason", "cf-aig-routing-reason"),
        ("routing_decision_id", "cf-aig-routing-decision-id"),
    ];
    if let Value::Object(map) = &mut meta {
        for (field, name) in optional {
            if let Some(v) = h(name) {
                map.insert(field.to_string(), Value::String(v));
            }
        }
        let limits: Map<String, Value> = [
            ("limit_requests", "x-ratelimit-limit-requests"),
            ("remaining_requests", "x-ratelimit-remaining-requests"),
            ("reset_requests", "x-ratelimit-reset-requests"),
            ("limit_tokens", "x-ratelimit-limit-tokens"),
            ("remaining_tokens", "x-ratelimit-remaining-tokens"),
            ("reset_tokens", "x-ratelimit-reset-tokens"),
        ]
        .iter()
        .filter_map(|(field, name)| {
            let value = h(name)?;
            let parsed = value
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or(Value::String(value));
            Some((field.to_string(), parsed))
        })
        .collect();
        if !limits.is_empty() {
            map.insert("rate_limit".to_string(), Value::Object(limits));
        }
    }
    meta
}

/// Every secret a client sends: each key of the pool, secret-looking headers, the gateway token
/// and the credentials of the proxies ureq reads from the environment.
fn client_scrubber(
    credentials: &Result<Credentials>,
    base_headers: &[(String, String)],
    gateway_headers: &Result<Vec<(&'static str, String)>>,
    env: &Env,
) -> Scrubber {
    let mut secrets: Vec<String> = Vec::new();
    if let Ok(c) = credentials {
        secrets.extend(c.keys.iter().map(|k| k.expose().to_string()));
    }
    let sensitive = |(n, v): (&str, &str)| is_sensitive_header(n).then(|| v.to_string());
    secrets.extend(
        base_headers
            .iter()
            .filter_map(|(n, v)| sensitive((n.as_str(), v.as_str()))),
    );
    if let Ok(gateway) = gateway_headers {
        secrets.extend(
            gateway
                .iter()
                .filter_map(|(n, v)| sensitive((n, v.as_str()))),
        );
    }
    for name in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        if let Some(url) = env.var(name) {
            secrets.extend(crate::auth::proxy_secrets(&url));
        }
    }
    Scrubber::new(secrets)
}
