//! The Anthropic Messages protocol, as Anthropic (or Cloudflare's `…/anthropic/…` route) serves
//! it: `POST /v1/messages` with `x-api-key` and `anthropic-version`, answers and SSE events in
//! Anthropic's shapes, errors as `{"type":"error","error":{…}}`, and `GET /v1/models`.

use serde_json::{json, Value};

use crate::fault::{Faults, Route};
use crate::http::Request;
use crate::routes::{bad_fault, common_faults, header_fault_spec, request_faults, Next, Reply};
use crate::stream::send_events;
use crate::State;

/// The catalog of the Anthropic surface.
const MODELS: [&str; 2] = ["claude-sonnet-4-5", "claude-haiku-4-5"];

fn error(reply: &mut Reply, status: u16, kind: &str, message: &str) -> Next {
    reply.json(
        status,
        &json!({ "type": "error", "error": { "type": kind, "message": message } }),
    )
}

/// `x-api-key` must be one of the mock's keys (any non-empty key when it has none).
fn key_accepted(state: &State, req: &Request) -> bool {
    match req.header("x-api-key").map(str::trim) {
        Some(key) if !key.is_empty() => {
            state.config.api_keys.is_empty() || state.config.api_keys.iter().any(|k| k == key)
        }
        _ => false,
    }
}

pub(crate) fn models(state: &State, reply: &mut Reply, req: &Request) -> Next {
    if !key_accepted(state, req) {
        return error(reply, 401, "authentication_error", "invalid x-api-key");
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-09-29T00:00:00Z" }))
        .collect();
    reply.json(200, &json!({ "data": data, "has_more": false }))
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The text of the last user turn (text blocks, or a plain string).
fn last_user_text(body: &Value) -> String {
    let Some(turn) = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
    else {
        return String::new();
    };
    match turn.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

pub(crate) fn messages(state: &State, reply: &mut Reply, req: &Request, number: u64) -> Next {
    if !key_accepted(state, req) {
        return error(reply, 401, "authentication_error", "invalid x-api-key");
    }
    if req.header("anthropic-version").is_none() {
        return error(
            reply,
            400,
            "invalid_request_error",
            "anthropic-version header is required",
        );
    }
    let Some(body) = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .filter(Value::is_object)
    else {
        return error(
            reply,
            400,
            "invalid_request_error",
            "the body is not a JSON object",
        );
    };
    if body.get("max_tokens").and_then(Value::as_u64).is_none() {
        return error(
            reply,
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        );
    }
    let faults = match request_faults(state, req, &header_fault_spec(req), Route::Chat) {
        Ok(faults) => faults,
        Err(message) => return bad_fault(reply, &message),
    };
    if let (Some(status), Some(kind)) = (faults.status, &faults.error_type) {
        return error(reply, status, kind, "scripted Anthropic error");
    }
    if let Some(next) = common_faults(reply, &faults) {
        return next;
    }
    let model = body.get("model").cloned().unwrap_or(Value::Null);
    let text = match (&faults.content, faults.content_len) {
        (Some(content), _) => content.clone(),
        (None, Some(len)) => "abcd ".chars().cycle().take(len).collect(),
        (None, None) => format!("echo: {}", last_user_text(&body)),
    };
    let input_tokens = words(&last_user_text(&body));
    let usage = faults
        .usage
        .clone()
        .unwrap_or_else(|| json!({ "input_tokens": input_tokens, "output_tokens": words(&text) }));
    let id = format!("msg_mock_{number}");
    let stream = body.get("stream") == Some(&Value::Bool(true));
    if stream {
        let events = stream_events(&id, &model, &text, &usage, &faults);
        return send_events(reply, &events, &faults);
    }
    let (content, stop) = match &faults.tool_call {
        Some((name, args)) => {
            let input: Value = serde_json::from_str(args).unwrap_or(json!({}));
            (
                json!([{ "type": "tool_use", "id": format!("toolu_{number}"), "name": name, "input": input }]),
                "tool_use",
            )
        }
        None => (json!([{ "type": "text", "text": text }]), "end_turn"),
    };
    reply.json(
        200,
        &json!({ "id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage }),
    )
}

fn frame(event: &str, data: &Value) -> Vec<u8> {
    format!("event: {event}\ndata: {data}\n\n").into_bytes()
}

/// The events of a streamed answer: the text (or a tool call's arguments) in `chunks` pieces,
/// cut after `truncate_after` events, with an `error` event when `error_type` is set.
fn stream_events(
    id: &str,
    model: &Value,
    text: &str,
    usage: &Value,
    faults: &Faults,
) -> Vec<Vec<u8>> {
    let input_usage = json!({ "input_tokens": usage.get("input_tokens").cloned().unwrap_or(json!(0)),
        "cache_read_input_tokens": usage.get("cache_read_input_tokens").cloned().unwrap_or(json!(0)),
        "cache_creation_input_tokens": usage.get("cache_creation_input_tokens").cloned().unwrap_or(json!(0)),
        "output_tokens": 1 });
    let mut events = vec![frame(
        "message_start",
        &json!({ "type": "message_start", "message": { "id": id, "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "usage": input_usage } }),
    )];
    let (block, pieces_of, stop) = match &faults.tool_call {
        Some((name, args)) => (
            json!({ "type": "tool_use", "id": format!("toolu_{id}"), "name": name, "input": {} }),
            args.as_str(),
            "tool_use",
        ),
        None => (json!({ "type": "text", "text": "" }), text, "end_turn"),
    };
    events.push(frame(
        "content_block_start",
        &json!({ "type": "content_block_start", "index": 0, "content_block": block }),
    ));
    events.push(frame("ping", &json!({ "type": "ping" })));
    let count = faults.chunks.unwrap_or(4).max(1);
    let chars: Vec<char> = pieces_of.chars().collect();
    let size = chars.len().div_ceil(count).max(1);
    for (i, piece) in chars.chunks(size).enumerate() {
        let piece: String = piece.iter().collect();
        let delta = if faults.tool_call.is_some() {
            json!({ "type": "input_json_delta", "partial_json": piece })
        } else {
            json!({ "type": "text_delta", "text": piece })
        };
        events.push(frame(
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
        ));
        if i == 0 {
            if let Some(kind) = &faults.error_type {
                events.push(frame("error", &json!({ "type": "error", "error": { "type": kind, "message": "scripted stream error" } })));
                return events;
            }
        }
    }
    events.push(frame(
        "content_block_stop",
        &json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(frame(
        "message_delta",
        &json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null },
            "usage": { "output_tokens": usage.get("output_tokens").cloned().unwrap_or(json!(0)) } }),
    ));
    events.push(frame("message_stop", &json!({ "type": "message_stop" })));
    if let Some(k) = faults.truncate_after {
        events.truncate(k.min(events.len().saturating_sub(1)));
    }
    events
}
