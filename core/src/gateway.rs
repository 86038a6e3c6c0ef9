//! Cloudflare AI Gateway specifics (docs/contract.md §7): the `gateway` options turned into `cf-aig-*`
//! headers, and the parsing of gateway and provider error bodies into a message and a code.

use serde_json::{Map, Value};

use crate::auth::{Env, SecretRef};
use crate::error::{Error, ErrorCode, Result};
use crate::profile::Fields;

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

/// The `gateway` table, per client and per request. Unset fields send no header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayOptions {
    /// Token of an authenticated gateway → `cf-aig-authorization: Bearer …`.
    pub authorization: Option<SecretRef>,
    /// Cache TTL in seconds (≥ 60) → `cf-aig-cache-ttl`.
    pub cache_ttl: Option<u64>,
    /// → `cf-aig-skip-cache: true`.
    pub skip_cache: Option<bool>,
    /// → `cf-aig-cache-key`.
    pub cache_key: Option<String>,
    /// Up to 5 entries of string/number/bool → `cf-aig-metadata` (JSON).
    pub metadata: Option<Map<String, Value>>,
    /// → `cf-aig-collect-log`.
    pub collect_log: Option<bool>,
    /// → `cf-aig-collect-log-payload`.
    pub collect_log_payload: Option<bool>,
    /// → `cf-aig-request-timeout` (ms).
    pub request_timeout_ms: Option<u64>,
    /// Gateway-side attempts (≤ 5) → `cf-aig-max-attempts`.
    pub max_attempts: Option<u64>,
    /// Gateway-side retry delay (≤ 5000 ms) → `cf-aig-retry-delay`.
    pub retry_delay_ms: Option<u64>,
    /// → `cf-aig-backoff`.
    pub backoff: Option<Backoff>,
    /// → `cf-aig-event-id`.
    pub event_id: Option<String>,
    /// → `cf-aig-byok-alias`.
    pub byok_alias: Option<String>,
}

/// The fields of the `gateway` table, in documentation order.
pub const GATEWAY_FIELDS: [&str; 13] = [
    "authorization",
    "cache_ttl",
    "skip_cache",
    "cache_key",
    "metadata",
    "collect_log",
    "collect_log_payload",
    "request_timeout_ms",
    "max_attempts",
    "retry_delay_ms",
    "backoff",
    "event_id",
    "byok_alias",
];

impl GatewayOptions {
    /// Parses and validates a `gateway` table; `path` names it in errors.
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
        f.finish()?;
        for (name, value) in g.plain_headers() {
            crate::auth::check_header(name, &value, path)?;
        }
        Ok(g)
    }

    /// `self` with every field set in `over` replaced (per-request options over the client's).
    pub fn merged(&self, over: &GatewayOptions) -> GatewayOptions {
        fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        GatewayOptions {
            authorization: pick(&over.authorization, &self.authorization),
            cache_ttl: pick(&over.cache_ttl, &self.cache_ttl),
            skip_cache: pick(&over.skip_cache, &self.skip_cache),
            cache_key: pick(&over.cache_key, &self.cache_key),
            metadata: pick(&over.metadata, &self.metadata),
            collect_log: pick(&over.collect_log, &self.collect_log),
            collect_log_payload: pick(&over.collect_log_payload, &self.collect_log_payload),
            request_timeout_ms: pick(&over.request_timeout_ms, &self.request_timeout_ms),
            max_attempts: pick(&over.max_attempts, &self.max_attempts),
            retry_delay_ms: pick(&over.retry_delay_ms, &self.retry_delay_ms),
            backoff: pick(&over.backoff, &self.backoff),
            event_id: pick(&over.event_id, &self.event_id),
            byok_alias: pick(&over.byok_alias, &self.byok_alias),
        }
    }

    /// Whether any option is set.
    pub fn is_empty(&self) -> bool {
        *self == GatewayOptions::default()
    }

    /// The `cf-aig-*` headers other than authorization.
    fn plain_headers(&self) -> Vec<(&'static str, String)> {
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
            crate::auth::check_header(
                "cf-aig-authorization",
                token.expose(),
                "gateway.authorization",
            )?;
            h.push(("cf-aig-authorization", format!("Bearer {}", token.expose())));
        }
        Ok(h)
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
