//! The client: a resolved profile (route, credentials, headers) plus one keep-alive agent and a
//! catalog cache. `Send + Sync`; every method may be called from many threads at once.
//! Building a client does no network I/O.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::agent::AgentCell;
use crate::answer;
use crate::answer::{Expected, Finish};
use crate::auth::{resolve_credentials, Credentials};
use crate::cancel::CancelToken;
use crate::catalog::{parse_models, CatalogCache};
use crate::error::{Attempt, Error, ErrorCode, Result};
use crate::profile::{ConfigFile, Profile};
use crate::registry::{resolve_kind, ProtocolFamily, ProviderKind};
use crate::request::{ChatBody, EmbeddingsBody, RequestOptions};
use crate::retry::{self, KeyCursor, Outcome, RetryPolicy};
use crate::route::{resolve_route, Route};
use crate::scrub::Scrubber;
use crate::secret::{is_sensitive_header, Env};
use crate::stream::ChatStream;
use crate::transport::{self, Deadline, Outgoing};
use crate::usage::{price_for, Price, PriceSource};

pub use crate::catalog::LIST_MODELS_RECOVERY;

/// One logical request: where, what, and under which deadline.
#[derive(Clone, Copy)]
struct Call<'a> {
    url: &'a str,
    body: Option<&'a [u8]>,
    model: &'a str,
    deadline: Deadline,
    accept: &'a str,
    cancel: Option<&'a CancelToken>,
}

/// What a call is for, which decides its preconditions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Chat: the kind's protocol must be served, and credentials are required.
    Chat,
    /// The model catalog: a kind whose catalog needs no key is probed without one.
    Catalog,
}

/// What every attempt of one call shares, resolved once before any I/O.
struct CallContext<'a> {
    credentials: std::borrow::Cow<'a, Credentials>,
    gateway: Vec<(&'static str, String)>,
    scrubber: std::borrow::Cow<'a, Scrubber>,
    agent: ureq::Agent,
    options: &'a RequestOptions,
}

/// A model's successful answer with its headers read and its body not yet.
struct Opened {
    response: ureq::http::Response<ureq::Body>,
    model: String,
    url: String,
    attempts: Vec<Attempt>,
}

/// Whether a failure is an upstream refusing the `stream_options` field aigw added.
fn refuses_stream_options(error: &Error) -> bool {
    error.http_status == Some(400) && error.message.contains("stream_options")
}

/// A successful non-streaming answer: its raw body and metadata.
struct RawAnswer {
    raw: Vec<u8>,
    meta: answer::Meta,
    model: String,
    attempts: Vec<Attempt>,
}

/// What is being sent: the chat or the embeddings endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat { stream: bool },
    Embeddings,
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
    /// Cleared once an upstream refused `stream_options`; streams stop asking for usage then.
    stream_usage: AtomicBool,
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
        let agent = AgentCell::new(crate::agent::build_agent(&profile, &env)?);
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
                stream_usage: AtomicBool::new(true),
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

    /// The checks every network call makes before any I/O, made once per call, and what its
    /// attempts share: credentials, gateway headers, the scrubber, the agent.
    fn context<'a>(
        &'a self,
        purpose: Purpose,
        options: &'a RequestOptions,
    ) -> Result<CallContext<'a>> {
        let inner = &self.inner;
        inner.route.ensure_resolved()?;
        let credentials = match &inner.credentials {
            Ok(c) => std::borrow::Cow::Borrowed(c),
            // A models probe of a kind whose catalog needs no key goes out without one.
            Err(e)
                if purpose == Purpose::Catalog
                    && e.code == ErrorCode::MissingCredentials
                    && inner.kind.model_probe_auth_optional =>
            {
                std::borrow::Cow::Owned(Credentials::none(inner.kind.auth_scheme))
            }
            Err(e) => return Err(e.clone()),
        };
        let gateway = self.gateway_headers(options)?;
        let scrubber = self.call_scrubber(options, &gateway);
        let agent = inner
            .agent
            .get(|| crate::agent::build_agent(&inner.profile, &inner.env))?;
        Ok(CallContext {
            credentials,
            gateway,
            scrubber,
            agent,
            options,
        })
    }

    /// Every header of one attempt: accept and content type, the kind's and profile's headers,
    /// key `key_index` of the pool (unless the caller sends its own), the gateway's, the call's
    /// own (they win), and the trace ids a `traceparent` carries on a Cloudflare route.
    fn headers_for(
        &self,
        ctx: &CallContext<'_>,
        key_index: usize,
        accept: &str,
        json_body: bool,
    ) -> Vec<(String, String)> {
        let (credentials, gateway, options) = (&ctx.credentials, &ctx.gateway, ctx.options);
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

    /// Sends one call with retries (docs/contract.md §6), appending to `attempts`.
    fn send_with_retries(
        &self,
        ctx: &CallContext<'_>,
        call: &Call<'_>,
        attempts: &mut Vec<Attempt>,
    ) -> Outcome {
        let keys = KeyCursor {
            cursor: &self.inner.key_cursor,
            size: ctx.credentials.pool_size(),
        };
        let policy = RetryPolicy::of(&self.inner.profile);
        retry::run(
            policy,
            keys,
            call.model,
            call.cancel,
            attempts,
            |key_index| {
                let headers = self.headers_for(ctx, key_index, call.accept, call.body.is_some());
                let out = Outgoing {
                    method: if call.body.is_some() { "POST" } else { "GET" },
                    url: call.url,
                    headers: &headers,
                    body: call.body,
                    deadline: call.deadline,
                    cancel: call.cancel,
                    scrubber: &ctx.scrubber,
                };
                transport::exchange(&ctx.agent, &out)
            },
        )
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
        self.list_models_with(&RequestOptions::default())
    }

    /// [`Client::list_models`] with per-call options: headers, gateway options, a timeout and a
    /// cancel token (a cancelled call ends with `CANCELLED`, its connection closed).
    pub fn list_models_with(&self, options: &RequestOptions) -> Result<Vec<Value>> {
        let ttl = Duration::from_millis(self.inner.profile.model_catalog_cache_ttl_ms);
        if let Some(models) = self.inner.catalog.fresh(ttl) {
            return Ok(models.to_vec());
        }
        let fetched = self.fetch_catalog(options).map(|models| models.to_vec());
        self.scrubbed(fetched, options)
    }

    /// Fetches the catalog now, bypassing the cache (and refreshing it).
    pub fn fetch_models(&self) -> Result<Vec<Value>> {
        let options = RequestOptions::default();
        let fetched = self.fetch_catalog(&options).map(|models| models.to_vec());
        self.scrubbed(fetched, &options)
    }

    fn fetch_catalog(&self, options: &RequestOptions) -> Result<Arc<Vec<Value>>> {
        let ctx = self.context(Purpose::Catalog, options)?;
        let url = self.inner.route.models_endpoint.as_deref().ok_or_else(|| {
            Error::new(
                ErrorCode::Unsupported,
                format!(
                    "{} has no models endpoint; set provider.models_endpoint",
                    self.inner.kind.id
                ),
            )
        })?;
        let deadline = Deadline::Whole(self.request_deadline(options));
        let call = Call {
            url,
            body: None,
            model: "",
            deadline,
            accept: "application/json",
            cancel: options.cancel.as_ref(),
        };
        let mut response = match self.send_with_retries(&ctx, &call, &mut Vec::new()) {
            Outcome::Answered(response) => response,
            Outcome::Failed { error, .. } => return Err(error),
        };
        let bytes = transport::read_body(
            response.body_mut(),
            self.inner.profile.max_response_bytes,
            url,
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
        crate::catalog::candidates(
            &self.inner.profile,
            &self.inner.catalog,
            request_model,
            || self.fetch_catalog(&RequestOptions::default()),
        )
    }

    /// Sends a chat request (OpenAI JSON, passed through untouched but for `model`) and returns
    /// the upstream body with an added `"aigw"` metadata key (docs/contract.md §6, §14).
    pub fn chat(&self, request: Value, options: &RequestOptions) -> Result<Value> {
        let answer = self
            .send_whole(request, options, Endpoint::Chat { stream: false })
            .and_then(|a| self.translated(a))
            .and_then(|(mut a, usage)| {
                let (raw, finish) = self.finish(&mut a, Expected::Chat);
                answer::tree_with_meta(raw, finish.with_usage(usage))
            });
        self.scrubbed(answer, options)
    }

    /// [`Client::chat`] returning JSON text, for bindings that hand text on (C, Node): the body
    /// is validated without being rebuilt and the `"aigw"` key is spliced in, saving a parse
    /// into a tree and a re-serialization per request. Same checks, same result.
    pub fn chat_text(&self, request: Value, options: &RequestOptions) -> Result<String> {
        let answer = self
            .send_whole(request, options, Endpoint::Chat { stream: false })
            .and_then(|a| self.translated(a))
            .and_then(|(mut a, usage)| {
                let (raw, finish) = self.finish(&mut a, Expected::Chat);
                answer::spliced_text(raw, finish.with_usage(usage))
            });
        self.scrubbed(answer, options)
    }

    /// Creates embeddings (OpenAI JSON: `{ "input": …, "model"?: … }`, passed through) and
    /// returns the upstream body with the `"aigw"` metadata (docs/contract.md §14). The model
    /// is the request's, else the profile's `embedding_model`.
    pub fn embeddings(&self, request: Value, options: &RequestOptions) -> Result<Value> {
        let answer = self
            .send_whole(request, options, Endpoint::Embeddings)
            .and_then(|mut a| {
                let (raw, finish) = self.finish(&mut a, Expected::Embeddings);
                answer::tree_with_meta(raw, finish)
            });
        self.scrubbed(answer, options)
    }

    /// [`Client::embeddings`] as JSON text (spliced like [`Client::chat_text`]).
    pub fn embeddings_text(&self, request: Value, options: &RequestOptions) -> Result<String> {
        let answer = self
            .send_whole(request, options, Endpoint::Embeddings)
            .and_then(|mut a| {
                let (raw, finish) = self.finish(&mut a, Expected::Embeddings);
                answer::spliced_text(raw, finish)
            });
        self.scrubbed(answer, options)
    }

    /// The price of `model` for `aigw.cost`: the profile's table, else the last fetched
    /// catalog's entry (a call never fetches the catalog for a price).
    fn price(&self, model: &str) -> Option<(Price, PriceSource)> {
        let catalog = self.inner.catalog.latest();
        price_for(
            &self.inner.profile.prices,
            catalog.as_deref().map(Vec::as_slice),
            model,
        )
    }

    /// `a`'s body and what turns it into the answer (its metadata moved out of `a`, not cloned).
    fn finish<'a>(&'a self, a: &'a mut RawAnswer, expected: Expected) -> (&'a [u8], Finish<'a>) {
        let meta = std::mem::take(&mut a.meta);
        let a = &*a;
        let finish = Finish {
            meta,
            url: match expected {
                Expected::Chat => &self.inner.route.request_endpoint,
                Expected::Embeddings => self
                    .inner
                    .route
                    .embeddings_endpoint
                    .as_deref()
                    .unwrap_or(""),
            },
            attempts: &a.attempts,
            price: self.price(&a.model),
            expected,
            upstream_usage: None,
        };
        (&a.raw, finish)
    }

    /// Sends a non-streaming call and reads its whole body.
    fn send_whole(
        &self,
        request: Value,
        options: &RequestOptions,
        endpoint: Endpoint,
    ) -> Result<RawAnswer> {
        let deadline = Deadline::Whole(self.request_deadline(options));
        let mut opened = self.open(
            request,
            endpoint,
            options,
            deadline,
            options.cancel.as_ref(),
        )?;
        let raw = transport::read_body(
            opened.response.body_mut(),
            self.inner.profile.max_response_bytes,
            &opened.url,
            deadline,
        )
        .map_err(|e| answer::with_attempts(e, &opened.attempts))?;
        let meta = answer::response_meta(
            opened.response.status().as_u16(),
            opened.response.headers(),
            &opened.model,
        );
        Ok(RawAnswer {
            raw,
            meta,
            model: opened.model,
            attempts: opened.attempts,
        })
    }

    /// Opens a streaming chat (`stream: true`). Retries happen only before the stream is
    /// returned; once it is, no event is ever replayed. Usage is asked for
    /// (`stream_options.include_usage`) unless the caller set `stream_options`; its meta gets
    /// `usage` and `cost` once the stream ended.
    pub fn chat_stream(&self, request: Value, options: &RequestOptions) -> Result<ChatStream> {
        let deadline = Deadline::Stream {
            headers: self.request_deadline(options),
            idle: Duration::from_millis(self.inner.profile.stream_idle_timeout_ms),
        };
        let cancel = options.cancel.clone().unwrap_or_default();
        let endpoint = Endpoint::Chat { stream: true };
        let opened = self.open(request, endpoint, options, deadline, Some(&cancel));
        let opened = self.scrubbed(opened, options)?;
        let meta = answer::MetaJson {
            meta: answer::response_meta(
                opened.response.status().as_u16(),
                opened.response.headers(),
                &opened.model,
            ),
            attempts: &opened.attempts,
            ended: None,
        }
        .to_value();
        let price = self.price(&opened.model);
        let gateway = self.gateway_headers(options).unwrap_or_default();
        let stream = ChatStream::open(
            opened.response,
            meta,
            opened.url,
            deadline,
            self.inner.profile.max_response_bytes,
            cancel,
            self.call_scrubber(options, &gateway).into_owned(),
        )
        .with_price(price);
        Ok(match self.inner.kind.protocol_family {
            ProtocolFamily::AnthropicMessages => stream.anthropic(),
            ProtocolFamily::BedrockConverse => stream.bedrock(&opened.model),
            ProtocolFamily::OpenaiChatCompletions => stream,
        })
    }

    /// Checks the call once, then sends it to each candidate model in turn, with retries,
    /// moving on only after a model-shaped error (docs/contract.md §5).
    fn open(
        &self,
        request: Value,
        endpoint: Endpoint,
        options: &RequestOptions,
        deadline: Deadline,
        cancel: Option<&CancelToken>,
    ) -> Result<Opened> {
        let ctx = self.context(Purpose::Chat, options)?;
        let (mut body, candidates, url) = self.body_and_candidates(request, endpoint)?;
        let stream = endpoint == Endpoint::Chat { stream: true };
        let mut asked_usage = stream && self.ask_for_usage(&mut body);
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut attempts = Vec::new();
        let mut last_err = None;
        let mut i = 0;
        while let Some(model) = candidates.get(i) {
            body.insert("model".to_string(), Value::String(model.clone()));
            let bytes = self.encode(&body, endpoint)?;
            let model_url = match self.inner.kind.protocol_family {
                ProtocolFamily::BedrockConverse => crate::bedrock::model_url(&url, model, stream),
                _ => url.clone(),
            };
            let call = Call {
                url: &model_url,
                body: Some(&bytes),
                model,
                deadline,
                accept,
                cancel,
            };
            match self.send_with_retries(&ctx, &call, &mut attempts) {
                Outcome::Answered(response) => {
                    return Ok(Opened {
                        response,
                        model: model.clone(),
                        url: model_url,
                        attempts,
                    })
                }
                Outcome::Failed { error, .. } if asked_usage && refuses_stream_options(&error) => {
                    // An upstream that does not know `stream_options`: ask once more without
                    // it, and never again from this client.
                    self.inner.stream_usage.store(false, Ordering::Relaxed);
                    body.remove("stream_options");
                    asked_usage = false;
                }
                Outcome::Failed {
                    error,
                    model_shaped,
                } => {
                    last_err = Some(error);
                    if !(model_shaped && i + 1 < candidates.len()) {
                        break;
                    }
                    i += 1;
                }
            }
        }
        Err(last_err
            .unwrap_or_else(|| Error::new(ErrorCode::ModelSelection, "no candidate model to try")))
    }

    /// The checked body, the candidate models in order, and the URL (before a model is put in
    /// it) of a chat or embeddings call.
    fn body_and_candidates(
        &self,
        request: Value,
        endpoint: Endpoint,
    ) -> Result<(Map<String, Value>, Vec<String>, String)> {
        Ok(match endpoint {
            Endpoint::Chat { stream } => {
                let ChatBody { body, model } = ChatBody::parse(request, stream)?;
                let url = self.inner.route.request_endpoint.clone();
                (body, self.select_models(model.as_deref())?, url)
            }
            Endpoint::Embeddings => {
                let EmbeddingsBody { body, model } = EmbeddingsBody::parse(request)?;
                let model = self.embedding_model(model)?;
                (body, vec![model], self.embeddings_url()?)
            }
        })
    }

    /// Adds `stream_options.include_usage` to an OpenAI stream request unless the caller set
    /// `stream_options` or an upstream of this client refused the field; whether it did.
    fn ask_for_usage(&self, body: &mut Map<String, Value>) -> bool {
        let ask = self.inner.kind.protocol_family == ProtocolFamily::OpenaiChatCompletions
            && !body.contains_key("stream_options")
            && self.inner.stream_usage.load(Ordering::Relaxed);
        if ask {
            body.insert(
                "stream_options".to_string(),
                serde_json::json!({ "include_usage": true }),
            );
        }
        ask
    }

    /// The request body as the upstream's protocol wants it.
    fn encode(&self, body: &Map<String, Value>, endpoint: Endpoint) -> Result<Vec<u8>> {
        let encoded = match (self.inner.kind.protocol_family, endpoint) {
            (ProtocolFamily::AnthropicMessages, Endpoint::Chat { .. }) => {
                serde_json::to_vec(&crate::anthropic::request(body)?)
            }
            (ProtocolFamily::BedrockConverse, Endpoint::Chat { .. }) => {
                serde_json::to_vec(&crate::bedrock::request(body)?)
            }
            _ => serde_json::to_vec(body),
        };
        encoded.map_err(|e| Error::invalid_argument(format!("request cannot be encoded: {e}")))
    }

    /// A whole chat answer in OpenAI's shape: an Anthropic message translated (its usage kept
    /// for `aigw.usage`), an OpenAI one as it came.
    fn translated(&self, mut a: RawAnswer) -> Result<(RawAnswer, Option<Value>)> {
        let family = self.inner.kind.protocol_family;
        if family == ProtocolFamily::OpenaiChatCompletions {
            return Ok((a, None));
        }
        let url = &self.inner.route.request_endpoint;
        let message: Value = serde_json::from_slice(&a.raw).map_err(|e| {
            answer::with_attempts(
                Error::protocol(format!("chat response from {url} is not valid JSON: {e}")),
                &a.attempts,
            )
        })?;
        let translated = match family {
            ProtocolFamily::BedrockConverse => crate::bedrock::answer(&message, &a.model),
            _ => crate::anthropic::answer(&message),
        };
        let (completion, usage) = translated.map_err(|e| answer::with_attempts(e, &a.attempts))?;
        a.raw = completion.to_string().into_bytes();
        Ok((a, usage))
    }

    /// The embeddings model: the request's, else the profile's `embedding_model`.
    fn embedding_model(&self, requested: Option<String>) -> Result<String> {
        requested
            .or_else(|| self.inner.profile.embedding_model.clone())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::ModelSelection,
                    "embeddings need a model: set the request's `model` or provider.embedding_model",
                )
            })
    }

    fn embeddings_url(&self) -> Result<String> {
        self.inner.route.embeddings_endpoint.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::Unsupported,
                format!(
                    "{} has no embeddings endpoint here: aigw derives it from a chat URL ending in /chat/completions (provider.endpoint is {})",
                    self.inner.kind.id, self.inner.route.request_endpoint
                ),
            )
        })
    }
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
