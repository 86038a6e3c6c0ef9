//! A successful answer as callers get it: the upstream body checked to be a chat completion (or
//! an error in a 200, surfaced), with the `"aigw"` metadata (docs/contract.md §6) added, either
//! into the parsed tree or spliced into the text.

use serde_json::{Map, Value};

use crate::error::{Attempt, Error, ErrorCode, Result};
use crate::usage::{cost_json, Price, PriceSource, Usage};

/// Which answer a body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expected {
    /// A chat completion: a `choices` list.
    Chat,
    /// An embeddings answer: a `data` list.
    Embeddings,
}

impl Expected {
    fn list(self) -> &'static str {
        match self {
            Expected::Chat => "choices",
            Expected::Embeddings => "data",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Expected::Chat => "chat",
            Expected::Embeddings => "embeddings",
        }
    }
}

/// What a successful answer gets besides its body: the metadata so far, where it came from,
/// the attempts, the model's price, and the shape it must have.
pub(crate) struct Finish<'a> {
    pub meta: Value,
    pub url: &'a str,
    pub attempts: &'a [Attempt],
    pub price: Option<(Price, PriceSource)>,
    pub expected: Expected,
    /// The upstream's own usage when the body was translated (it keeps what the translation
    /// folds together, such as cache writes).
    pub upstream_usage: Option<Value>,
}

impl Finish<'_> {
    /// Uses `usage` (the upstream's, before translation) for `aigw.usage` when given.
    pub(crate) fn with_usage(mut self, usage: Option<Value>) -> Self {
        if usage.is_some() {
            self.upstream_usage = usage;
        }
        self
    }

    /// The metadata with `usage` (normalised from the body's) and `cost`.
    fn meta_with_usage(self, usage: Option<&Value>) -> Value {
        let usage = Usage::from_upstream(self.upstream_usage.as_ref().or(usage));
        let mut meta = self.meta;
        if let Value::Object(map) = &mut meta {
            map.insert("usage".to_string(), usage.to_json());
            map.insert("cost".to_string(), cost_json(&usage, self.price));
        }
        meta
    }
}

/// A successful body as text with the `"aigw"` metadata spliced in before its last `}`.
/// Bodies that are not plainly the expected answer (errors, odd shapes, an existing `"aigw"`
/// key, nesting deeper than the tree parser accepts) take the general path, so every language
/// gets the same answer or the same error.
pub(crate) fn spliced_text(raw: &[u8], finish: Finish<'_>) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Shape {
        choices: Option<Vec<serde::de::IgnoredAny>>,
        data: Option<Vec<serde::de::IgnoredAny>>,
        usage: Option<Value>,
    }
    let text = std::str::from_utf8(raw).ok();
    let shape = text
        .filter(|t| {
            t.trim_end().ends_with('}')
                && !t.contains("\"aigw\"")
                && json_depth_within(t.as_bytes(), MAX_JSON_DEPTH)
        })
        .and_then(|t| serde_json::from_str::<Shape>(t).ok())
        .filter(|shape| match finish.expected {
            Expected::Chat => shape.choices.is_some(),
            Expected::Embeddings => shape.data.is_some(),
        });
    match (text, shape) {
        (Some(t), Some(shape)) => {
            let body = t.trim_end();
            let meta = finish.meta_with_usage(shape.usage.as_ref()).to_string();
            let mut out = String::with_capacity(body.len() + meta.len() + 10);
            out.push_str(&body[..body.len() - 1]);
            out.push_str(",\"aigw\":");
            out.push_str(&meta);
            out.push('}');
            Ok(out)
        }
        _ => tree_with_meta(raw, finish).map(|v| v.to_string()),
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

/// Parses a successful body, checks its shape and adds the `"aigw"` metadata.
pub(crate) fn tree_with_meta(raw: &[u8], finish: Finish<'_>) -> Result<Value> {
    let (url, what) = (finish.url, finish.expected.what());
    let mut value: Value = serde_json::from_slice(raw).map_err(|e| {
        with_attempts(
            Error::protocol(format!("{what} response from {url} is not valid JSON: {e}")),
            finish.attempts,
        )
    })?;
    check_shape(&value, url, finish.expected).map_err(|e| with_attempts(e, finish.attempts))?;
    let meta = finish.meta_with_usage(value.get("usage"));
    if let Value::Object(map) = &mut value {
        map.insert("aigw".to_string(), meta);
    }
    Ok(value)
}

pub(crate) fn with_attempts(mut e: Error, attempts: &[Attempt]) -> Error {
    e.attempts = attempts.to_vec();
    e
}

/// A 200 answer must at least be an object with its list (`choices`, `data`), or an `error`
/// we surface.
fn check_shape(value: &Value, url: &str, expected: Expected) -> Result<()> {
    let what = expected.what();
    let Value::Object(map) = value else {
        return Err(Error::protocol(format!(
            "{what} response from {url} is not a JSON object"
        )));
    };
    if map.get(expected.list()).is_some_and(Value::is_array) {
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
    let list = expected.list();
    Err(Error::protocol(match expected {
        Expected::Chat => {
            format!("chat response from {url} is not a chat completion (no `{list}` list)")
        }
        Expected::Embeddings => {
            format!("embeddings response from {url} is not an embeddings answer (no `{list}` list)")
        }
    }))
}

/// The `"aigw"` metadata object (docs/contract.md §6).
pub(crate) fn response_meta(
    status: u16,
    headers: &ureq::http::HeaderMap,
    model: &str,
    attempts: &[Attempt],
) -> Value {
    // About twenty names are read from a response of a dozen headers or so: one pass over the
    // headers, then lookups in that short list, costs less than a map lookup per name (each
    // parses and hashes the name).
    let present: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let get = |name: &str| {
        present
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| *value)
    };
    let h = |name: &str| get(name).map(str::to_string);
    let (request_id_header, request_id) = match crate::classify::request_id_by(get) {
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
