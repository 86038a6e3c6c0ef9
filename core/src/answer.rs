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
    pub meta: Meta,
    pub url: &'a str,
    pub attempts: &'a [Attempt],
    pub price: Option<(Price, PriceSource)>,
    pub expected: Expected,
    /// The upstream's own usage when the body was translated (it keeps what the translation
    /// folds together, such as cache writes).
    pub upstream_usage: Option<Value>,
}

impl<'a> Finish<'a> {
    /// Uses `usage` (the upstream's, before translation) for `aigw.usage` when given.
    pub(crate) fn with_usage(mut self, usage: Option<Value>) -> Self {
        if usage.is_some() {
            self.upstream_usage = usage;
        }
        self
    }

    /// The metadata with `usage` (normalised from the body's) and `cost`, ready to serialize.
    fn meta_with_usage(self, usage: Option<&Value>) -> MetaJson<'a> {
        let usage = Usage::from_upstream(self.upstream_usage.as_ref().or(usage));
        let cost = cost_json(&usage, self.price);
        MetaJson {
            meta: self.meta,
            attempts: self.attempts,
            ended: Some((usage, cost)),
        }
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
        /// Whether the body has its own `"aigw"` key (even `null`).
        #[serde(default, deserialize_with = "present")]
        aigw: Option<()>,
    }
    fn present<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<()>, D::Error> {
        serde::Deserialize::deserialize(d).map(|serde::de::IgnoredAny| Some(()))
    }
    let text = std::str::from_utf8(raw).ok();
    let shape = text
        .filter(|t| t.trim_end().ends_with('}') && json_depth_within(t.as_bytes(), MAX_JSON_DEPTH))
        .and_then(|t| serde_json::from_str::<Shape>(t).ok())
        .filter(|shape| {
            shape.aigw.is_none()
                && match finish.expected {
                    Expected::Chat => shape.choices.is_some(),
                    Expected::Embeddings => shape.data.is_some(),
                }
        });
    match (text, shape) {
        (Some(t), Some(shape)) => {
            let body = t.trim_end();
            let meta = serde_json::to_string(&finish.meta_with_usage(shape.usage.as_ref()))
                .map_err(|e| Error::new(ErrorCode::Internal, format!("aigw metadata: {e}")))?;
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
    let meta = finish.meta_with_usage(value.get("usage")).to_value();
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

/// The `"aigw"` metadata a response's status and headers give (docs/contract.md §6); the
/// attempts, `usage` and `cost` join it when it is written ([`MetaJson`]).
#[derive(Debug, Default)]
pub(crate) struct Meta {
    status: u16,
    model: String,
    /// `(field, value)` for every field read from a header that was there, and for
    /// `request_id`/`request_id_header`, `cf_aig_log_id`, `cache_status` and `step` always
    /// (null when absent).
    fields: Vec<(&'static str, Option<String>)>,
    rate_limit: Map<String, Value>,
}

/// Reads the metadata from a response's status and headers.
pub(crate) fn response_meta(status: u16, headers: &ureq::http::HeaderMap, model: &str) -> Meta {
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
        Some((name, id)) => (Some(name.to_string()), Some(id)),
        None => (None, None),
    };
    let mut fields = vec![
        ("request_id", request_id),
        ("request_id_header", request_id_header),
        ("cf_aig_log_id", h("cf-aig-log-id")),
        ("cache_status", h("cf-aig-cache-status")),
        ("step", h("cf-aig-step")),
    ];
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
    for (field, name) in optional {
        if let Some(v) = h(name) {
            fields.push((field, Some(v)));
        }
    }
    let rate_limit = [
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
    Meta {
        status,
        model: model.to_string(),
        fields,
        rate_limit,
    }
}

/// The metadata as written: with the attempts, and with `usage` and `cost` once the answer
/// ended (`ended`). Serialized straight to text on the splice path, into a tree elsewhere.
pub(crate) struct MetaJson<'a> {
    pub meta: Meta,
    pub attempts: &'a [Attempt],
    pub ended: Option<(Usage, Value)>,
}

impl MetaJson<'_> {
    /// The metadata as a JSON tree.
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl serde::Serialize for MetaJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        /// One field's value, borrowed.
        enum Field<'v> {
            Text(Option<&'v str>),
            Status(u16),
            Attempts(&'v [Attempt]),
            Usage(&'v Usage),
            Tree(&'v Value),
            Limits(&'v Map<String, Value>),
        }
        let m = &self.meta;
        let mut fields: Vec<(&str, Field<'_>)> = Vec::with_capacity(m.fields.len() + 6);
        fields.push(("status", Field::Status(m.status)));
        fields.push(("attempts", Field::Attempts(self.attempts)));
        fields.extend(
            m.fields
                .iter()
                .map(|(k, v)| (*k, Field::Text(v.as_deref()))),
        );
        fields.push(("model", Field::Text(Some(&m.model))));
        if !m.rate_limit.is_empty() {
            fields.push(("rate_limit", Field::Limits(&m.rate_limit)));
        }
        if let Some((usage, cost)) = &self.ended {
            fields.push(("usage", Field::Usage(usage)));
            fields.push(("cost", Field::Tree(cost)));
        }
        // In the order a tree (a sorted map) writes its keys, so both paths give the same text.
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (key, value) in &fields {
            match value {
                Field::Text(v) => map.serialize_entry(key, v)?,
                Field::Status(v) => map.serialize_entry(key, v)?,
                Field::Attempts(v) => map.serialize_entry(key, v)?,
                Field::Usage(v) => map.serialize_entry(key, v)?,
                Field::Tree(v) => map.serialize_entry(key, v)?,
                Field::Limits(v) => map.serialize_entry(key, v)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::{HeaderMap, HeaderName, HeaderValue};

    fn finish<'a>(meta: Meta, attempts: &'a [Attempt], price: Option<Price>) -> Finish<'a> {
        Finish {
            meta,
            url: "http://127.0.0.1/v1/chat/completions",
            attempts,
            price: price.map(|p| (p, PriceSource::Profile)),
            expected: Expected::Chat,
            upstream_usage: None,
        }
    }

    /// The spliced text and the tree write the same metadata, byte for byte, with every kind
    /// of field present (headers always read, optional ones, rate limits, usage, cost).
    #[test]
    fn the_splice_writes_the_metadata_a_tree_writes() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-request-id", "req-1"),
            ("cf-aig-log-id", "log-\"quoted\""),
            ("cf-aig-cache-status", "HIT"),
            ("cf-aig-step", "1"),
            ("cf-aig-event-id", "ev"),
            ("cf-aig-request-id", "gw"),
            ("cf-aig-model", "m"),
            ("cf-aig-provider", "p"),
            ("cf-aig-routed-model", "rm"),
            ("cf-aig-routing-reason", "why"),
            ("cf-aig-routing-decision-id", "d"),
            ("x-ratelimit-limit-requests", "100"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let attempts = [
            Attempt {
                status: Some(429),
                error: Some(ErrorCode::RateLimited),
                model: "a".into(),
                key_index: 0,
                delay_ms: 0,
            },
            Attempt {
                status: Some(200),
                error: None,
                model: "b".into(),
                key_index: 1,
                delay_ms: 250,
            },
        ];
        let price = Price {
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
            cached_input_per_mtok: None,
        };
        let body =
            br#"{"choices":[],"usage":{"completion_tokens":2,"prompt_tokens":1,"total_tokens":3}}"#;
        for (headers, price) in [(&headers, Some(price)), (&HeaderMap::new(), None)] {
            let meta = || response_meta(200, headers, "b");
            let text = spliced_text(body, finish(meta(), &attempts, price)).unwrap();
            let tree = tree_with_meta(body, finish(meta(), &attempts, price)).unwrap();
            let spliced = text.split_once(",\"aigw\":").expect("spliced").1;
            assert_eq!(spliced, format!("{}}}", tree["aigw"]));
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), tree);
            assert_eq!(tree["aigw"]["usage"]["input_tokens"], 1);
        }
        // A body with an `"aigw"` key of its own (even null) gets ours in its place, once; one
        // that merely mentions the word is spliced.
        for body in [
            &br#"{"choices":[],"aigw":null}"#[..],
            br#"{"aigw":{"x":1},"choices":[]}"#,
            br#"{"choices":[{"message":{"content":"\"aigw\":"}}]}"#,
        ] {
            let meta = || response_meta(200, &headers, "b");
            let text = spliced_text(body, finish(meta(), &attempts, None)).unwrap();
            assert_eq!(text.matches("\"aigw\":").count(), 1, "{text}");
            let tree = tree_with_meta(body, finish(meta(), &attempts, None)).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), tree);
        }
        let tree = tree_with_meta(
            body,
            finish(response_meta(200, &headers, "b"), &attempts, None),
        );
        let aigw = &tree.unwrap()["aigw"];
        assert_eq!(aigw["rate_limit"]["limit_requests"], 100);
        assert_eq!(aigw["rate_limit"]["reset_tokens"], "6m0s");
        assert_eq!(aigw["request_id_header"], "x-request-id");
        assert_eq!(aigw["attempts"][0]["error"], "RATE_LIMITED");
        assert_eq!(aigw["cost"], Value::Null);
    }
}
