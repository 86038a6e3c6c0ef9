//! What the protocol translations (`anthropic`, `bedrock`) share: reading OpenAI messages
//! (their text, a tool call's arguments, alternating turns) and the fields every protocol maps
//! the same way.

use serde_json::{json, Map, Value};

use crate::error::{Error, ErrorCode, Result};

/// The text of an OpenAI `content` (a string, or the `text` of its parts, one per line).
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A tool call's `function.arguments` (JSON text) as the JSON value protocols want.
pub(crate) fn tool_call_input(call: &Value) -> Result<Value> {
    let arguments = call
        .pointer("/function/arguments")
        .and_then(Value::as_str)
        .unwrap_or("{}");
    let arguments = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str(arguments)
        .map_err(|e| Error::invalid_argument(format!("a tool call's arguments are not JSON: {e}")))
}

/// Appends a turn, merging it into the previous one of the same role (the protocols want
/// roles to alternate).
pub(crate) fn push_turn(
    turns: &mut Vec<(&'static str, Vec<Value>)>,
    role: &'static str,
    blocks: Vec<Value>,
) {
    match turns.last_mut() {
        Some((last, previous)) if *last == role => previous.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// `UNSUPPORTED` for `n > 1`, which no translated protocol has.
pub(crate) fn refuse_many(body: &Map<String, Value>, protocol: &str) -> Result<()> {
    if body.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err(Error::new(
            ErrorCode::Unsupported,
            format!("`n` > 1 has no {protocol} form: send one request per answer"),
        ));
    }
    Ok(())
}

/// The `messages` list of a chat request.
pub(crate) fn messages(body: &Map<String, Value>) -> Result<&[Value]> {
    body.get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| Error::invalid_argument("the chat request needs a `messages` list"))
}

/// `stop` (a string or a list) as a list of stop sequences.
pub(crate) fn stop_sequences(body: &Map<String, Value>) -> Option<Value> {
    match body.get("stop") {
        Some(Value::String(s)) => Some(json!([s])),
        Some(Value::Array(list)) => Some(Value::Array(list.clone())),
        _ => None,
    }
}

/// Seconds since the Unix epoch, for `created`.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The blocks of an OpenAI message `content`: a string becomes one `text_block`, a list of parts
/// goes through `part`; nothing (or an empty string) is no block.
pub(crate) fn blocks_of(
    content: Option<&Value>,
    text_block: fn(&str) -> Value,
    part: fn(&Value) -> Result<Value>,
) -> Result<Vec<Value>> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![text_block(s)]),
        Some(Value::Array(parts)) => parts.iter().map(part).collect(),
        Some(_) => Err(Error::invalid_argument(
            "a message's content must be a string or a list of parts",
        )),
    }
}

/// `UNSUPPORTED` for a content part type the protocol has no form for.
pub(crate) fn unsupported_part(kind: Option<&str>, protocol: &str) -> Error {
    Error::new(
        ErrorCode::Unsupported,
        format!(
            "content part type {} has no {protocol} form",
            kind.unwrap_or("(none)")
        ),
    )
}
