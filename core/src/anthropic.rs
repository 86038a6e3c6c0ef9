//! The Anthropic Messages protocol (docs/contract.md §15): the caller's OpenAI chat request
//! becomes a Messages request, and the Messages answer, stream events and errors become what the
//! OpenAI API would have sent. Transport, retries, credentials, gateway options and model
//! selection stay shared; only the bodies are translated here.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::translate::{self, messages, now, refuse_many, stop_sequences};

/// `max_tokens` when the caller sets none (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_argument(message)
}

/// An OpenAI content part as an Anthropic content block.
fn block_of(part: &Value) -> Result<Value> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(
            json!({ "type": "text", "text": part.get("text").and_then(Value::as_str).unwrap_or("") }),
        ),
        Some("image_url") => {
            let url = part
                .pointer("/image_url/url")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("an image_url part needs image_url.url"))?;
            match url
                .strip_prefix("data:")
                .and_then(|rest| rest.split_once(";base64,"))
            {
                Some((media_type, data)) => Ok(json!({ "type": "image",
                    "source": { "type": "base64", "media_type": media_type, "data": data } })),
                None => Ok(json!({ "type": "image", "source": { "type": "url", "url": url } })),
            }
        }
        other => Err(translate::unsupported_part(other, "Anthropic Messages")),
    }
}

/// The blocks of an OpenAI message `content`.
fn blocks_of(content: Option<&Value>) -> Result<Vec<Value>> {
    translate::blocks_of(content, |s| json!({ "type": "text", "text": s }), block_of)
}

/// What Anthropic's conversation looks like: content, `tool_use` and `tool_result` blocks.
const SHAPES: translate::Shapes = translate::Shapes {
    protocol: "Anthropic Messages",
    blocks: blocks_of,
    tool_use: |call, input| {
        json!({ "type": "tool_use", "id": call.get("id").cloned().unwrap_or(Value::Null),
            "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null), "input": input })
    },
    tool_result: |message, text| {
        json!({ "type": "tool_result",
            "tool_use_id": message.get("tool_call_id").cloned().unwrap_or(Value::Null),
            "content": text })
    },
};

/// Translates an OpenAI chat request (with `model` set) into a Messages request.
pub fn request(body: &Map<String, Value>) -> Result<Value> {
    refuse_many(body, "Anthropic Messages")?;
    let messages = messages(body)?;
    let (system, turns) = translate::turns(messages, &SHAPES)?;
    let mut out = Map::new();
    out.insert(
        "model".into(),
        body.get("model").cloned().unwrap_or(Value::Null),
    );
    let max_tokens = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), Value::from(max_tokens));
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system.join("\n\n")));
    }
    out.insert(
        "messages".into(),
        Value::Array(
            turns
                .into_iter()
                .map(|(role, content)| json!({ "role": role, "content": content }))
                .collect(),
        ),
    );
    for key in ["temperature", "top_p", "top_k", "stream"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = stop_sequences(body) {
        out.insert("stop_sequences".into(), stop);
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        out.insert(
            "tools".into(),
            Value::Array(tools.iter().map(tool).collect()),
        );
    }
    if let Some(choice) = body.get("tool_choice") {
        out.insert("tool_choice".into(), tool_choice(choice)?);
    }
    if let Some(user) = body.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    Ok(Value::Object(out))
}

/// An OpenAI function tool as an Anthropic tool.
fn tool(t: &Value) -> Value {
    let f = t.get("function").unwrap_or(t);
    let mut tool = json!({ "name": f.get("name").cloned().unwrap_or(Value::Null),
        "input_schema": f.get("parameters").cloned().unwrap_or(json!({ "type": "object" })) });
    if let Some(d) = f.get("description") {
        tool["description"] = d.clone();
    }
    tool
}

/// OpenAI's `tool_choice` as Anthropic's (`required` is `any`, a named function `tool`).
fn tool_choice(choice: &Value) -> Result<Value> {
    Ok(match choice {
        Value::String(s) if s == "auto" => json!({ "type": "auto" }),
        Value::String(s) if s == "required" => json!({ "type": "any" }),
        Value::String(s) if s == "none" => json!({ "type": "none" }),
        Value::Object(_) => match choice.pointer("/function/name") {
            Some(name) => json!({ "type": "tool", "name": name }),
            None => return Err(invalid("tool_choice names no function")),
        },
        _ => {
            return Err(invalid(
                "tool_choice must be auto, required, none or a function",
            ))
        }
    })
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        None => Value::Null,
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("refusal") => json!("content_filter"),
        Some(_) => json!("stop"),
    }
}

/// Anthropic usage in OpenAI's shape (prompt tokens include cache reads and writes, the cached
/// ones also under `prompt_tokens_details`).
fn openai_usage(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt =
        n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens");
    let completion = n("output_tokens");
    json!({ "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": n("cache_read_input_tokens") } })
}

/// A Messages answer as a `chat.completion`, with the upstream usage (Anthropic's shape, for
/// `aigw.usage`).
pub fn answer(message: &Value) -> Result<(Value, Option<Value>)> {
    if message.get("type").and_then(Value::as_str) != Some("message") {
        return Err(Error::protocol(
            "the Anthropic answer is not a message (no \"type\": \"message\")",
        ));
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(
                json!({ "id": block.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": { "name": block.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": block.get("input").unwrap_or(&json!({})).to_string() } }),
            ),
            _ => {}
        }
    }
    let mut msg = json!({ "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) } });
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    let usage = message.get("usage").cloned();
    let completion = json!({
        "id": message.get("id").cloned().unwrap_or(Value::Null),
        "object": "chat.completion",
        "created": now(),
        "model": message.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{ "index": 0, "message": msg,
            "finish_reason": finish_reason(message.get("stop_reason").and_then(Value::as_str)) }],
        "usage": usage.as_ref().map(openai_usage).unwrap_or(Value::Null),
    });
    Ok((completion, usage))
}

/// Turns Messages stream events into `chat.completion.chunk`s, one event at a time.
#[derive(Debug, Default)]
pub struct StreamTranslator {
    id: Value,
    model: Value,
    created: u64,
    /// Anthropic content-block index → OpenAI tool-call index.
    tools: HashMap<u64, u64>,
    usage: Map<String, Value>,
    stopped: bool,
    /// A text chunk of this stream with its content cut out: JSON text before and after the
    /// content string, and the chunk's tree, made once at `message_start`.
    text_template: Option<TextTemplate>,
}

#[derive(Debug)]
struct TextTemplate {
    before: String,
    after: String,
    value: Value,
}

/// The most frequent event, `content_block_delta` with a `text_delta`, read without a tree.
#[derive(Deserialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    delta: Option<TextDelta<'a>>,
}

#[derive(Deserialize)]
struct TextDelta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

impl StreamTranslator {
    /// A translator for one stream.
    pub fn new() -> StreamTranslator {
        StreamTranslator {
            created: now(),
            ..StreamTranslator::default()
        }
    }

    /// Whether `message_stop` arrived (the stream ended properly).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The usage so far, in Anthropic's shape.
    pub fn usage(&self) -> Option<Value> {
        (!self.usage.is_empty()).then(|| Value::Object(self.usage.clone()))
    }

    /// The chunk of a text delta event as JSON text and tree, made from the stream's template
    /// without parsing the event into a tree; `None` for every other event (or before
    /// `message_start`), which [`StreamTranslator::on_event`] then reads.
    pub fn text_delta(&self, event: Option<&str>, data: &str) -> Option<(String, Value)> {
        if event.is_some_and(|e| e != "content_block_delta") {
            return None;
        }
        let template = self.text_template.as_ref()?;
        let parsed: DeltaEvent = serde_json::from_str(data).ok()?;
        let delta = parsed
            .delta
            .filter(|_| parsed.kind == "content_block_delta")?;
        if delta.kind != "text_delta" {
            return None;
        }
        let content = delta.text.unwrap_or_default();
        let quoted = serde_json::to_string(&content).ok()?;
        let mut text =
            String::with_capacity(template.before.len() + quoted.len() + template.after.len());
        text.push_str(&template.before);
        text.push_str(&quoted);
        text.push_str(&template.after);
        let mut value = template.value.clone();
        if let Some(slot) = value.pointer_mut("/choices/0/delta/content") {
            *slot = Value::String(content.into_owned());
        }
        Some((text, value))
    }

    /// The template of this stream's text chunks; `None` if the id or model make the cut
    /// ambiguous (then every event takes the general path).
    fn text_template(&self) -> Option<TextTemplate> {
        const MARK: &str = "\\u0001aigw-content\\u0001";
        let value = self.chunk(json!({ "content": "" }), Value::Null);
        let mut marked = value.clone();
        *marked.pointer_mut("/choices/0/delta/content")? =
            Value::String("\u{1}aigw-content\u{1}".into());
        let text = marked.to_string();
        let at = text.find(MARK).filter(|at| text.rfind(MARK) == Some(*at))?;
        Some(TextTemplate {
            before: text[..at - 1].to_string(),
            after: text[at + MARK.len() + 1..].to_string(),
            value,
        })
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({ "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
    }

    fn add_usage(&mut self, usage: Option<&Value>) {
        for (k, v) in usage.and_then(Value::as_object).into_iter().flatten() {
            if v.is_u64() {
                self.usage.insert(k.clone(), v.clone());
            }
        }
    }

    /// The chunks one event becomes (often none). `event` is the SSE `event` name, `data` its
    /// parsed JSON. An `error` event is a typed error.
    /// One arm per event type, each a few lines: the function is as long as the list.
    pub fn on_event(&mut self, event: Option<&str>, data: &Value) -> Result<Vec<Value>> {
        let kind = event
            .or_else(|| data.get("type").and_then(Value::as_str))
            .unwrap_or("");
        Ok(match kind {
            "message_start" => {
                let message = data.get("message").unwrap_or(&Value::Null);
                self.id = message.get("id").cloned().unwrap_or(Value::Null);
                self.model = message.get("model").cloned().unwrap_or(Value::Null);
                self.add_usage(message.get("usage"));
                self.text_template = self.text_template();
                vec![self.chunk(json!({ "role": "assistant", "content": "" }), Value::Null)]
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                if block.get("type").and_then(Value::as_str) != Some("tool_use") {
                    return Ok(Vec::new());
                }
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let tool_index = self.tools.len() as u64;
                self.tools.insert(index, tool_index);
                vec![self.chunk(
                    json!({ "tool_calls": [{ "index": tool_index,
                        "id": block.get("id").cloned().unwrap_or(Value::Null), "type": "function",
                        "function": { "name": block.get("name").cloned().unwrap_or(Value::Null),
                            "arguments": "" } }] }),
                    Value::Null,
                )]
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => vec![self.chunk(
                        json!({ "content": delta.get("text").cloned().unwrap_or(json!("")) }),
                        Value::Null,
                    )],
                    Some("input_json_delta") => {
                        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                        let tool_index = self.tools.get(&index).copied().unwrap_or(0);
                        vec![self.chunk(
                            json!({ "tool_calls": [{ "index": tool_index, "function": {
                                "arguments": delta.get("partial_json").cloned().unwrap_or(json!("")) } }] }),
                            Value::Null,
                        )]
                    }
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                self.add_usage(data.get("usage"));
                let stop = data.pointer("/delta/stop_reason").and_then(Value::as_str);
                vec![self.chunk(json!({}), finish_reason(stop))]
            }
            "message_stop" => {
                self.stopped = true;
                let mut usage = self.chunk(json!({}), Value::Null);
                usage["choices"] = json!([]);
                usage["usage"] = openai_usage(&Value::Object(self.usage.clone()));
                vec![usage]
            }
            "error" => return Err(crate::stream::error_of(data, "the Anthropic stream")),
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path gives exactly what the general path gives, for awkward text too.
    #[test]
    fn text_deltas_read_without_a_tree_equal_the_general_path() {
        let mut t = StreamTranslator::new();
        let start = json!({ "type": "message_start", "message": { "id": "msg_\"1\"", "model": "claude\\x",
            "usage": { "input_tokens": 3 } } });
        t.on_event(Some("message_start"), &start).unwrap();
        for text in [
            "plain",
            "quote \" backslash \\ newline \n",
            "中文 🦀",
            "",
            "\u{1}aigw-content\u{1}",
        ] {
            let data = json!({ "type": "content_block_delta", "index": 0,
                "delta": { "type": "text_delta", "text": text } })
            .to_string();
            let (fast_text, fast_value) = t.text_delta(Some("content_block_delta"), &data).unwrap();
            let general = t
                .on_event(None, &serde_json::from_str(&data).unwrap())
                .unwrap();
            assert_eq!(general.len(), 1);
            assert_eq!(fast_value, general[0], "{text:?}");
            assert_eq!(fast_text, general[0].to_string(), "{text:?}");
            assert_eq!(
                serde_json::from_str::<Value>(&fast_text).unwrap(),
                fast_value
            );
        }
        // Everything else takes the general path.
        let tool = json!({ "type": "content_block_delta", "index": 1,
            "delta": { "type": "input_json_delta", "partial_json": "{" } })
        .to_string();
        assert!(t.text_delta(None, &tool).is_none());
        assert!(t.text_delta(Some("ping"), "{\"type\":\"ping\"}").is_none());
        assert!(t.text_delta(None, "not json").is_none());
        assert!(StreamTranslator::new()
            .text_delta(None, "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}")
            .is_none(), "before message_start");
    }
}
