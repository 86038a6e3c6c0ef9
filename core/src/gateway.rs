//! Cloudflare AI Gateway specifics (docs/contract.md §7): the `gateway` options turned into `cf-aig-*`
//! headers, and the parsing of gateway and provider error bodies into a message and a code.

use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};
use crate::fields::Fields;
use crate::secret::{Env, SecretRef};

/// Cloudflare's retry backoff shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Same delay every time.
    Constant,
    /// Delay grows linearly.
    Linear,
    /// Delay doubles.
    Exponential,
}

impl Backoff {
    fn as_str(self) -> &'static str {
        match self {
            Backoff::Constant => "constant",
            Backoff::Linear => "linear",
            Backoff::Exponential => "exponential",
        }
    }
}

/// Declares the gateway options once: the struct (every field optional: unset sends no
/// header), [`GATEWAY_FIELDS`] in documentation order, the per-request merge and the
/// `describe()` form. Parsing and the headers stay per field below (each has its own rules).
macro_rules! gateway_options {
    ($($(#[$doc:meta])* $name:ident: $ty:ty,)*) => {
        /// The `gateway` table, per client and per request. Unset fields send no header.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct GatewayOptions {
            $($(#[$doc])* pub $name: Option<$ty>,)*
        }

        /// The fields of the `gateway` table, in documentation order.
        pub const GATEWAY_FIELDS: [&str; [$(stringify!($name)),*].len()] = [$(stringify!($name)),*];

        impl GatewayOptions {
            /// `self` with every field set in `over` replaced (per-request options over the
            /// client's).
            pub fn merged(&self, over: &GatewayOptions) -> GatewayOptions {
                GatewayOptions {
                    $($name: over.$name.clone().or_else(|| self.$name.clone()),)*
                }
            }

            /// Every option as `describe()` shows it: `null` when unset, the token by its source.
            pub fn describe(&self) -> Map<String, Value> {
                let mut map = Map::new();
                $(map.insert(
                    stringify!($name).to_string(),
                    self.$name.as_ref().map_or(Value::Null, Describe::describe),
                );)*
                map
            }
        }
    };
}

/// How an option's value appears in `describe()`.
trait Describe {
    fn describe(&self) -> Value;
}

impl Describe for SecretRef {
    fn describe(&self) -> Value {
        Value::String(self.source())
    }
}

impl Describe for Backoff {
    fn describe(&self) -> Value {
        Value::String(self.as_str().to_string())
    }
}

impl Describe for CustomCost {
    fn describe(&self) -> Value {
        self.to_json()
    }
}

impl Describe for Map<String, Value> {
    fn describe(&self) -> Value {
        Value::Object(self.clone())
    }
}

macro_rules! describe_as_json {
    ($($ty:ty),*) => {$(
        impl Describe for $ty {
            fn describe(&self) -> Value {
                Value::from(self.clone())
            }
        }
    )*};
}
describe_as_json!(u64, bool, String, Vec<String>);

gateway_options! {
    /// Token of an authenticated gateway → `cf-aig-authorization: Bearer …`.
    authorization: SecretRef,
    /// Cache TTL in seconds (≥ 60) → `cf-aig-cache-ttl`.
    cache_ttl: u64,
    /// → `cf-aig-skip-cache: true`.
    skip_cache: bool,
    /// → `cf-aig-cache-key`.
    cache_key: String,
    /// Up to 5 entries of string/number/bool → `cf-aig-metadata` (JSON).
    metadata: Map<String, Value>,
    /// → `cf-aig-collect-log`.
    collect_log: bool,
    /// → `cf-aig-collect-log-payload`.
    collect_log_payload: bool,
    /// → `cf-aig-request-timeout` (ms).
    request_timeout_ms: u64,
    /// Gateway-side attempts (≤ 5) → `cf-aig-max-attempts`.
    max_attempts: u64,
    /// Gateway-side retry delay (≤ 5000 ms) → `cf-aig-retry-delay`.
    retry_delay_ms: u64,
    /// → `cf-aig-backoff`.
    backoff: Backoff,
    /// → `cf-aig-event-id`.
    event_id: String,
    /// → `cf-aig-byok-alias`.
    byok_alias: String,
    /// Prices in USD per token → `cf-aig-custom-cost` (JSON).
    custom_cost: CustomCost,
    /// Zero data retention for this request → `cf-aig-zdr` (`true` forces it, `false` turns it
    /// off; Unified Billing only).
    zdr: bool,
    /// Require the caller's own provider credentials → `cf-aig-no-wholesale: true` (`false`
    /// sends nothing: the header cannot relax the gateway's setting).
    no_wholesale: bool,
    /// Auto Router session → `cf-aig-session-id`.
    session_id: String,
    /// Auto Router turn, overriding turn detection → `cf-aig-turn-id`.
    turn_id: String,
    /// → `cf-aig-no-session-affinity: true` (`false` sends nothing).
    no_session_affinity: bool,
    /// Auto Router model allow-list (`*` wildcards allowed) → `cf-aig-allowed-models`
    /// (comma-separated).
    allowed_models: Vec<String>,
    /// Auto Router provider allow-list → `cf-aig-allowed-providers` (comma-separated).
    allowed_providers: Vec<String>,
    /// OpenTelemetry trace id, 32 hex digits → `cf-aig-otel-trace-id`.
    otel_trace_id: String,
    /// OpenTelemetry parent span id, 16 hex digits → `cf-aig-otel-parent-span-id`.
    otel_parent_span_id: String,
}

/// Custom prices sent to the gateway for its cost analytics, in USD per token (Cloudflare's
/// unit: "$1 per million input tokens" is `per_token_in = 0.000001`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomCost {
    /// USD per input token.
    pub per_token_in: Option<f64>,
    /// USD per output token.
    pub per_token_out: Option<f64>,
    /// USD per cache-read token.
    pub per_cache_read_token: Option<f64>,
    /// USD per cache-write token.
    pub per_cache_write_token: Option<f64>,
}

/// The fields of `gateway.custom_cost`, in the order they are sent.
pub const CUSTOM_COST_FIELDS: [&str; 4] = [
    "per_token_in",
    "per_token_out",
    "per_cache_read_token",
    "per_cache_write_token",
];

impl CustomCost {
    fn from_value(value: &Value, path: &str) -> Result<CustomCost> {
        let mut f = Fields::new(value, path)?;
        let mut prices = [None; 4];
        for (slot, name) in prices.iter_mut().zip(CUSTOM_COST_FIELDS) {
            *slot = match f.take(name) {
                None => None,
                Some(v) => match v.as_f64() {
                    Some(x) if x.is_finite() && x >= 0.0 => Some(x),
                    _ => {
                        return Err(Error::config(format!(
                            "{path}.{name} must be a non-negative number (USD per token)"
                        )))
                    }
                },
            };
        }
        f.finish()?;
        if prices.iter().all(Option::is_none) {
            return Err(Error::config(format!(
                "{path} sets no price; give at least one of {}",
                CUSTOM_COST_FIELDS.join(", ")
            )));
        }
        let [per_token_in, per_token_out, per_cache_read_token, per_cache_write_token] = prices;
        Ok(CustomCost {
            per_token_in,
            per_token_out,
            per_cache_read_token,
            per_cache_write_token,
        })
    }

    fn set(&self) -> impl Iterator<Item = (&'static str, serde_json::Number)> {
        let prices = [
            self.per_token_in,
            self.per_token_out,
            self.per_cache_read_token,
            self.per_cache_write_token,
        ];
        CUSTOM_COST_FIELDS
            .into_iter()
            .zip(prices)
            .filter_map(|(name, p)| Some((name, serde_json::Number::from_f64(p?)?)))
    }

    /// The set prices as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.set()
                .map(|(name, p)| (name.to_string(), Value::Number(p)))
                .collect(),
        )
    }

    /// The `cf-aig-custom-cost` value: the set prices as compact JSON in
    /// [`CUSTOM_COST_FIELDS`] order (the documented order, whatever the map type sorts).
    pub fn header_value(&self) -> String {
        let fields: Vec<String> = self
            .set()
            .map(|(name, p)| format!("\"{name}\":{p}"))
            .collect();
        format!("{{{}}}", fields.join(","))
    }
}

impl GatewayOptions {
    /// Parses and validates a `gateway` table; `path` names it in errors. One step per option
    /// in [`GATEWAY_FIELDS`] order, each with its own rule, so the function is as long as the
    /// list.
    pub fn from_value(value: &Value, path: &str) -> Result<GatewayOptions> {
        let mut f = Fields::new(value, path)?;
        let mut g = GatewayOptions::default();
        if let Some(v) = f.take("authorization") {
            g.authorization = Some(SecretRef::from_value(v, &f.child("authorization"))?);
        }
        g.cache_ttl = f.u64("cache_ttl")?;
        if let Some(ttl) = g.cache_ttl {
            if ttl < 60 {
                return Err(Error::config(format!(
                    "{path}.cache_ttl is {ttl}; Cloudflare requires at least 60 seconds"
                )));
            }
        }
        g.skip_cache = f.bool("skip_cache")?;
        g.cache_key = f.string("cache_key")?;
        if let Some(v) = f.take("metadata") {
            g.metadata = Some(parse_metadata(v, &format!("{path}.metadata"))?);
        }
        g.collect_log = f.bool("collect_log")?;
        g.collect_log_payload = f.bool("collect_log_payload")?;
        g.request_timeout_ms = f.u64("request_timeout_ms")?;
        g.max_attempts = f.u64("max_attempts")?;
        if let Some(n) = g.max_attempts {
            if !(1..=5).contains(&n) {
                return Err(Error::config(format!(
                    "{path}.max_attempts is {n}; Cloudflare accepts 1 to 5"
                )));
            }
        }
        g.retry_delay_ms = f.u64("retry_delay_ms")?;
        if let Some(ms) = g.retry_delay_ms {
            if ms > 5000 {
                return Err(Error::config(format!(
                    "{path}.retry_delay_ms is {ms}; Cloudflare accepts at most 5000"
                )));
            }
        }
        g.backoff = match f.string("backoff")?.as_deref() {
            None => None,
            Some("constant") => Some(Backoff::Constant),
            Some("linear") => Some(Backoff::Linear),
            Some("exponential") => Some(Backoff::Exponential),
            Some(other) => {
                return Err(Error::config(format!(
                    "{path}.backoff is `{other}`; use constant, linear or exponential"
                )))
            }
        };
        g.event_id = f.string("event_id")?;
        g.byok_alias = f.string("byok_alias")?;
        if let Some(v) = f.take("custom_cost") {
            g.custom_cost = Some(CustomCost::from_value(v, &format!("{path}.custom_cost"))?);
        }
        g.zdr = f.bool("zdr")?;
        g.no_wholesale = f.bool("no_wholesale")?;
        g.session_id = f.string("session_id")?;
        g.turn_id = f.string("turn_id")?;
        g.no_session_affinity = f.bool("no_session_affinity")?;
        g.allowed_models = allow_list(&mut f, "allowed_models")?;
        g.allowed_providers = allow_list(&mut f, "allowed_providers")?;
        g.otel_trace_id = hex_id(&mut f, "otel_trace_id", 32)?;
        g.otel_parent_span_id = hex_id(&mut f, "otel_parent_span_id", 16)?;
        f.finish()?;
        for (name, value) in g.plain_headers() {
            crate::secret::check_header(name, &value, path)?;
        }
        Ok(g)
    }

    /// Whether any option is set.
    pub fn is_empty(&self) -> bool {
        *self == GatewayOptions::default()
    }

    /// The `cf-aig-*` headers other than authorization, in [`GATEWAY_FIELDS`] order: one line
    /// per option (each has its own header and value form), so the function is as long as the
    /// list.
    pub fn plain_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(v) = self.cache_ttl {
            h.push(("cf-aig-cache-ttl", v.to_string()));
        }
        if let Some(v) = self.skip_cache {
            h.push(("cf-aig-skip-cache", v.to_string()));
        }
        if let Some(v) = &self.cache_key {
            h.push(("cf-aig-cache-key", v.clone()));
        }
        if let Some(v) = &self.metadata {
            h.push(("cf-aig-metadata", Value::Object(v.clone()).to_string()));
        }
        if let Some(v) = self.collect_log {
            h.push(("cf-aig-collect-log", v.to_string()));
        }
        if let Some(v) = self.collect_log_payload {
            h.push(("cf-aig-collect-log-payload", v.to_string()));
        }
        if let Some(v) = self.request_timeout_ms {
            h.push(("cf-aig-request-timeout", v.to_string()));
        }
        if let Some(v) = self.max_attempts {
            h.push(("cf-aig-max-attempts", v.to_string()));
        }
        if let Some(v) = self.retry_delay_ms {
            h.push(("cf-aig-retry-delay", v.to_string()));
        }
        if let Some(v) = self.backoff {
            h.push(("cf-aig-backoff", v.as_str().to_string()));
        }
        if let Some(v) = &self.event_id {
            h.push(("cf-aig-event-id", v.clone()));
        }
        if let Some(v) = &self.byok_alias {
            h.push(("cf-aig-byok-alias", v.clone()));
        }
        if let Some(v) = &self.custom_cost {
            h.push(("cf-aig-custom-cost", v.header_value()));
        }
        if let Some(v) = self.zdr {
            h.push(("cf-aig-zdr", v.to_string()));
        }
        if self.no_wholesale == Some(true) {
            h.push(("cf-aig-no-wholesale", "true".to_string()));
        }
        if let Some(v) = &self.session_id {
            h.push(("cf-aig-session-id", v.clone()));
        }
        if let Some(v) = &self.turn_id {
            h.push(("cf-aig-turn-id", v.clone()));
        }
        if self.no_session_affinity == Some(true) {
            h.push(("cf-aig-no-session-affinity", "true".to_string()));
        }
        if let Some(v) = &self.allowed_models {
            h.push(("cf-aig-allowed-models", v.join(",")));
        }
        if let Some(v) = &self.allowed_providers {
            h.push(("cf-aig-allowed-providers", v.join(",")));
        }
        if let Some(v) = &self.otel_trace_id {
            h.push((OTEL_TRACE_ID, v.clone()));
        }
        if let Some(v) = &self.otel_parent_span_id {
            h.push((OTEL_PARENT_SPAN_ID, v.clone()));
        }
        h
    }

    /// All `cf-aig-*` headers to send. An authorization ref that does not resolve is
    /// `MISSING_CREDENTIALS` (no silent unauthenticated call).
    pub fn headers(&self, env: &Env) -> Result<Vec<(&'static str, String)>> {
        let mut h = self.plain_headers();
        if let Some(auth) = &self.authorization {
            let token = auth.resolve(env).ok_or_else(|| {
                Error::new(
                    ErrorCode::MissingCredentials,
                    format!("gateway.authorization ({}) cannot be resolved; set it or remove gateway.authorization", auth.source()),
                )
            })?;
            crate::secret::check_header(
                "cf-aig-authorization",
                token.expose(),
                "gateway.authorization",
            )?;
            h.push(("cf-aig-authorization", format!("Bearer {}", token.expose())));
        }
        Ok(h)
    }
}

/// Header carrying the OpenTelemetry trace id.
pub const OTEL_TRACE_ID: &str = "cf-aig-otel-trace-id";
/// Header carrying the OpenTelemetry parent span id.
pub const OTEL_PARENT_SPAN_ID: &str = "cf-aig-otel-parent-span-id";

/// An allow-list as a list of strings or one comma-separated string; entries are trimmed, and
/// none may be empty or hold a comma (the header is comma-separated).
fn allow_list(f: &mut Fields<'_>, name: &'static str) -> Result<Option<Vec<String>>> {
    let path = f.child(name);
    let items: Vec<String> = match f.take(name) {
        None => return Ok(None),
        Some(Value::String(s)) => s.split(',').map(|e| e.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(|e| e.trim().to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::config(format!("{path} must be a list of strings")))?,
        Some(_) => {
            return Err(Error::config(format!(
                "{path} must be a list of strings or one comma-separated string"
            )))
        }
    };
    if items.is_empty() || items.iter().any(String::is_empty) {
        return Err(Error::config(format!(
            "{path} has an empty entry; list names such as `openai/*` or `anthropic`"
        )));
    }
    if let Some(bad) = items.iter().find(|e| e.contains(',')) {
        return Err(Error::config(format!(
            "{path} entry `{bad}` holds a comma; give each entry separately"
        )));
    }
    Ok(Some(items))
}

/// Whether `id` is `len` hex digits and not all zeros (W3C Trace Context forbids all-zero ids).
fn valid_trace_part(id: &str, len: usize) -> bool {
    id.len() == len && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')
}

fn hex_id(f: &mut Fields<'_>, name: &'static str, len: usize) -> Result<Option<String>> {
    let path = f.child(name);
    match f.string(name)? {
        None => Ok(None),
        Some(id) if valid_trace_part(&id, len) => Ok(Some(id.to_ascii_lowercase())),
        Some(id) => Err(Error::config(format!(
            "{path} is `{}`; it must be {len} hexadecimal digits, not all zero",
            id.escape_default()
        ))),
    }
}

/// The trace id and parent span id of a W3C `traceparent` header
/// (`{version}-{trace-id}-{parent-id}-{flags}`), or `None` when it is not valid: an invalid
/// `traceparent` is ignored, as the W3C Trace Context recommendation says.
pub fn parse_traceparent(value: &str) -> Option<(String, String)> {
    let value = value.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    let lower_hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if version.len() != 2 || !lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 has exactly four fields; later versions may append more.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if flags.len() != 2 || !lower_hex(flags) || !lower_hex(trace) || !lower_hex(span) {
        return None;
    }
    (valid_trace_part(trace, 32) && valid_trace_part(span, 16))
        .then(|| (trace.to_string(), span.to_string()))
}

/// Adds `cf-aig-otel-trace-id` and `cf-aig-otel-parent-span-id` from a `traceparent` among
/// `headers`, unless the trace id header is already there (an explicit `otel_trace_id` wins).
pub fn fill_otel_from_traceparent(headers: &mut Vec<(String, String)>) {
    if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(OTEL_TRACE_ID))
    {
        return;
    }
    let parsed = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("traceparent"))
        .and_then(|(_, v)| parse_traceparent(v));
    if let Some((trace, span)) = parsed {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(OTEL_PARENT_SPAN_ID));
        headers.push((OTEL_TRACE_ID.to_string(), trace));
        headers.push((OTEL_PARENT_SPAN_ID.to_string(), span));
    }
}

fn parse_metadata(value: &Value, path: &str) -> Result<Map<String, Value>> {
    let Value::Object(map) = value else {
        return Err(Error::config(format!("{path} must be a table")));
    };
    if map.len() > 5 {
        return Err(Error::config(format!(
            "{path} has {} entries; Cloudflare accepts at most 5",
            map.len()
        )));
    }
    for (k, v) in map {
        if !(v.is_string() || v.is_number() || v.is_boolean()) {
            return Err(Error::config(format!(
                "{path}.{k} must be a string, number or boolean"
            )));
        }
    }
    Ok(map.clone())
}

/// Message and code pulled out of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorBody {
    /// Human message.
    pub message: Option<String>,
    /// Gateway numeric code or provider string code.
    pub code: Option<String>,
    /// Provider `type` (e.g. `invalid_request_error`).
    pub kind: Option<String>,
    /// Provider `param` (e.g. `model`).
    pub param: Option<String>,
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn from_error_object(obj: &Map<String, Value>) -> ErrorBody {
    ErrorBody {
        message: obj.get("message").and_then(scalar_to_string),
        code: obj.get("code").and_then(scalar_to_string),
        kind: obj.get("type").and_then(scalar_to_string),
        param: obj.get("param").and_then(scalar_to_string),
    }
}

/// Parses the error bodies gateways and providers send: the gateway envelope
/// (`{"success":false,"error":[{"code","message"}]}`), the v4 `errors` form, the OpenAI
/// `{"error":{…}}` form, `{"error":"text"}` and `{"message": …}`. Unknown shapes give nothing.
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    parse_error_value(&value)
}

/// [`parse_error_body`] over an already parsed value.
pub fn parse_error_value(value: &Value) -> ErrorBody {
    let Value::Object(root) = value else {
        return ErrorBody::default();
    };
    // Anthropic: `{"type": "error", "error": {"type": "overloaded_error", "message": …}}`; its
    // error type is the provider code.
    if root.get("type").and_then(Value::as_str) == Some("error") {
        if let Some(Value::Object(obj)) = root.get("error") {
            let mut body = from_error_object(obj);
            body.code = body.code.or_else(|| body.kind.clone());
            return body;
        }
    }
    for key in ["error", "errors"] {
        match root.get(key) {
            Some(Value::Array(items)) => {
                if let Some(Value::Object(first)) = items.first() {
                    return from_error_object(first);
                }
            }
            Some(Value::Object(obj)) => return from_error_object(obj),
            Some(Value::String(s)) => {
                return ErrorBody {
                    message: Some(s.clone()),
                    ..ErrorBody::default()
                };
            }
            _ => {}
        }
    }
    if root.contains_key("message") {
        return from_error_object(root);
    }
    ErrorBody::default()
}
