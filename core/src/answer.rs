//! A successful answer as callers get it: the upstream body checked to be a chat completion (or
//! an error in a 200, surfaced), with the `"aigw"` metadata (docs/contract.md §6) added, either
//! into the parsed tree or spliced into the text.

use serde_json::{Map, Value};

use crate::error::{Attempt, Error, ErrorCode, Result};
use crate::transport::header;

/// A successful chat body as text with the `"aigw"` metadata spliced in before its last `}`.
/// Bodies that are not plainly a chat completion (errors, odd shapes, an existing `"aigw"` key,
/// nesting deeper than the tree parser accepts) take the general path, so every language gets
/// the same answer or the same error.
pub(crate) fn spliced_text(
    raw: &[u8],
    meta: Value,
    url: &str,
    attempts: &[Attempt],
) -> Result<String> {
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
pub(crate) fn tree_with_meta(
    raw: &[u8],
    meta: Value,
    url: &str,
    attempts: &[Attempt],
) -> Result<Value> {
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

pub(crate) fn with_attempts(mut e: Error, attempts: &[Attempt]) -> Error {
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
    let h = |name: &str| header(headers, name).map(str::to_string);
    let (request_id_header, request_id) = match crate::classify::request_id_with_header(headers) {
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
