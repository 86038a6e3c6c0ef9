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

/// The alternating `(role, blocks)` turns of a translated request.
pub(crate) type Turns = Vec<(&'static str, Vec<Value>)>;

/// How one protocol writes what differs between protocols in a conversation: content blocks,
/// an assistant's tool call and a tool's result.
pub(crate) struct Shapes {
    /// The protocol's name, for the error on a role it has no form for.
    pub protocol: &'static str,
    /// A message's `content` as the protocol's blocks.
    pub blocks: fn(Option<&Value>) -> Result<Vec<Value>>,
    /// A tool call (`call`, with its arguments parsed as `input`) as a block.
    pub tool_use: fn(call: &Value, input: Value) -> Value,
    /// A `tool` message (`message`, its content as `text`) as a block.
    pub tool_result: fn(message: &Value, text: String) -> Value,
}

/// The system texts and the alternating turns of OpenAI messages: system and developer
/// messages give their text; consecutive same-role messages merge; tool results are user turns.
pub(crate) fn turns(messages: &[Value], shapes: &Shapes) -> Result<(Vec<String>, Turns)> {
    let mut system = Vec::new();
    let mut turns = Turns::new();
    for m in messages {
        let content = m.get("content");
        let (role, blocks) = match m.get("role").and_then(Value::as_str).unwrap_or("") {
            "system" | "developer" => {
                system.push(text_of(content.unwrap_or(&Value::Null)));
                continue;
            }
            "user" => ("user", (shapes.blocks)(content)?),
            "assistant" => {
                let mut blocks = (shapes.blocks)(content)?;
                for call in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    blocks.push((shapes.tool_use)(call, tool_call_input(call)?));
                }
                ("assistant", blocks)
            }
            "tool" => {
                let text = text_of(content.unwrap_or(&Value::Null));
                ("user", vec![(shapes.tool_result)(m, text)])
            }
            other => {
                return Err(Error::invalid_argument(format!(
                    "message role `{other}` has no {} form",
                    shapes.protocol
                )))
            }
        };
        push_turn(&mut turns, role, blocks);
    }
    Ok((system, turns))
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
