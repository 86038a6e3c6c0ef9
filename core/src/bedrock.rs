//! The Bedrock Converse protocol (docs/contract.md §15): the caller's OpenAI chat request
//! becomes a Converse request (the model id goes in the path, URL-encoded), and the Converse
//! answer and `converse-stream` events (AWS event-stream frames) become what the OpenAI API
//! would have sent.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::error::{Error, ErrorCode, Result};
use crate::eventstream::Frame;
use crate::translate::{self, messages, now, refuse_many, stop_sequences};

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_argument(message)
}

/// `{modelId}` in the chat URL replaced by the model, percent-encoded for a path segment
/// (`anthropic.claude-3:0` → `anthropic.claude-3%3A0`); `converse` becomes `converse-stream`
/// for streams.
pub fn model_url(template: &str, model: &str, stream: bool) -> String {
    let mut encoded = String::with_capacity(model.len() * 3);
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let url = template.replace("{modelId}", &encoded);
    if stream {
        match url.split_once('?') {
            Some((path, query)) if path.ends_with("/converse") => {
                format!("{path}-stream?{query}")
            }
            _ if url.ends_with("/converse") => format!("{url}-stream"),
            _ => url,
        }
    } else {
        url
    }
}

fn block_of(part: &Value) -> Result<Value> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => {
            Ok(json!({ "text": part.get("text").and_then(Value::as_str).unwrap_or("") }))
        }
        Some("image_url") => {
            let url = part
                .pointer("/image_url/url")
                .and_then(Value::as_str)
                .unwrap_or("");
            let Some((media, data)) = url
                .strip_prefix("data:")
                .and_then(|r| r.split_once(";base64,"))
            else {
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    "Bedrock Converse takes images as data URLs only (data:image/png;base64,…)",
                ));
            };
            let format = media.strip_prefix("image/").unwrap_or(media);
            Ok(json!({ "image": { "format": format, "source": { "bytes": data } } }))
        }
        other => Err(translate::unsupported_part(other, "Bedrock Converse")),
    }
}

/// The blocks of an OpenAI message `content`.
fn blocks_of(content: Option<&Value>) -> Result<Vec<Value>> {
    translate::blocks_of(content, |s| json!({ "text": s }), block_of)
}

/// Translates an OpenAI chat request into a Converse request (without the model, which is in
/// the path).
pub fn request(body: &Map<String, Value>) -> Result<Value> {
    refuse_many(body, "Bedrock Converse")?;
    let messages = messages(body)?;
    let (system, turns) = translate::turns(messages, &SHAPES)?;
    let mut out = Map::new();
    out.insert(
        "messages".into(),
        Value::Array(
            turns
                .into_iter()
                .map(|(role, content)| json!({ "role": role, "content": content }))
                .collect(),
        ),
    );
    if !system.is_empty() {
        let blocks = system.into_iter().map(|text| json!({ "text": text }));
        out.insert("system".into(), Value::Array(blocks.collect()));
    }
    if let Some(inference) = inference_config(body) {
        out.insert("inferenceConfig".into(), inference);
    }
    if let Some(tools) = tool_config(body)? {
        out.insert("toolConfig".into(), tools);
    }
    Ok(Value::Object(out))
}

/// What Converse's conversation looks like: content, `toolUse` and `toolResult` blocks.
const SHAPES: translate::Shapes = translate::Shapes {
    protocol: "Bedrock Converse",
    blocks: blocks_of,
    tool_use: |call, input| {
        json!({ "toolUse": { "toolUseId": call.get("id").cloned().unwrap_or(Value::Null),
            "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null), "input": input } })
    },
    tool_result: |message, text| {
        json!({ "toolResult": { "toolUseId": message.get("tool_call_id").cloned().unwrap_or(Value::Null),
            "content": [{ "text": text }] } })
    },
};

/// `inferenceConfig` from `max_tokens`, `temperature`, `top_p` and `stop`, if any is set.
fn inference_config(body: &Map<String, Value>) -> Option<Value> {
    let mut inference = Map::new();
    if let Some(n) = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64)
    {
        inference.insert("maxTokens".into(), n.into());
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(v) = body.get(from).filter(|v| v.is_number()) {
            inference.insert(to.into(), v.clone());
        }
    }
    if let Some(stop) = stop_sequences(body) {
        inference.insert("stopSequences".into(), stop);
    }
    (!inference.is_empty()).then_some(Value::Object(inference))
}

/// `toolConfig` from `tools` and `tool_choice` (`none` leaves the tools out: Converse has no
/// such choice).
fn tool_config(body: &Map<String, Value>) -> Result<Option<Value>> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else {
        return Ok(None);
    };
    let specs: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = t.get("function").unwrap_or(t);
                let mut spec = json!({ "name": f.get("name").cloned().unwrap_or(Value::Null),
                    "inputSchema": { "json": f.get("parameters").cloned().unwrap_or(json!({ "type": "object" })) } });
                if let Some(d) = f.get("description") {
                    spec["description"] = d.clone();
                }
                json!({ "toolSpec": spec })
            })
            .collect();
    let mut config = json!({ "tools": specs });
    match body.get("tool_choice") {
        None => {}
        Some(Value::String(s)) if s == "auto" => config["toolChoice"] = json!({ "auto": {} }),
        Some(Value::String(s)) if s == "required" => config["toolChoice"] = json!({ "any": {} }),
        Some(Value::String(s)) if s == "none" => {
            // Converse has no "none": leave the tools out instead.
            config = Value::Null;
        }
        Some(choice) => match choice.pointer("/function/name") {
            Some(name) => config["toolChoice"] = json!({ "tool": { "name": name } }),
            None => {
                return Err(invalid(
                    "tool_choice must be auto, required, none or a function",
                ))
            }
        },
    }
    Ok((!config.is_null()).then_some(config))
}

/// OpenAI's `finish_reason` for a Converse `stopReason`.
pub fn finish_reason(stop: Option<&str>) -> Value {
    match stop {
        None => Value::Null,
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("guardrail_intervened" | "content_filtered") => json!("content_filter"),
        Some(_) => json!("stop"),
    }
}

fn openai_usage(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("inputTokens") + n("cacheReadInputTokens") + n("cacheWriteInputTokens");
    json!({ "prompt_tokens": prompt, "completion_tokens": n("outputTokens"),
        "total_tokens": prompt + n("outputTokens"),
        "prompt_tokens_details": { "cached_tokens": n("cacheReadInputTokens") } })
}

/// A Converse answer as a `chat.completion`, with Bedrock's usage (for `aigw.usage`).
pub fn answer(body: &Value, model: &str) -> Result<(Value, Option<Value>)> {
    let content = body
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::protocol("the Bedrock answer has no output.message.content"))?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in content {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        }
        if let Some(tool) = block.get("toolUse") {
            calls.push(json!({ "id": tool.get("toolUseId").cloned().unwrap_or(Value::Null), "type": "function",
                "function": { "name": tool.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": tool.get("input").unwrap_or(&json!({})).to_string() } }));
        }
    }
    let mut message = json!({ "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) } });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = body.get("usage").cloned();
    Ok((
        json!({ "id": format!("bedrock-{}", now()), "object": "chat.completion", "created": now(), "model": model,
            "choices": [{ "index": 0, "message": message,
                "finish_reason": finish_reason(body.get("stopReason").and_then(Value::as_str)) }],
            "usage": usage.as_ref().map(openai_usage).unwrap_or(Value::Null) }),
        usage,
    ))
}

/// Turns `converse-stream` frames into `chat.completion.chunk`s.
#[derive(Debug, Default)]
pub struct StreamTranslator {
    model: String,
    created: u64,
    tools: HashMap<u64, u64>,
    usage: Option<Value>,
    stopped: bool,
    finished: bool,
}

impl StreamTranslator {
    /// A translator for one stream of `model`.
    pub fn new(model: &str) -> StreamTranslator {
        StreamTranslator {
            model: model.to_string(),
            created: now(),
            ..StreamTranslator::default()
        }
    }

    /// Whether `messageStop` arrived.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the stream is over (`metadata` after `messageStop`).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Bedrock's usage, once `metadata` arrived.
    pub fn usage(&self) -> Option<Value> {
        self.usage.clone()
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({ "id": format!("bedrock-{}", self.created), "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
    }

    /// The chunks one frame becomes. Exception frames are typed errors
    /// (`throttlingException` → `RATE_LIMITED`, others `PROVIDER`).
    /// One arm per event type, each a few lines: the function is as long as the list.
    pub fn on_frame(&mut self, frame: &Frame) -> Result<Vec<Value>> {
        let payload: Value = serde_json::from_slice(&frame.payload)
            .map_err(|e| Error::protocol(format!("an event-stream payload is not JSON: {e}")))?;
        if matches!(frame.header(":message-type"), Some("exception" | "error")) {
            let kind = frame
                .header(":exception-type")
                .or_else(|| frame.header(":error-code"))
                .unwrap_or("exception");
            let code = if kind.to_ascii_lowercase().contains("throttling") {
                ErrorCode::RateLimited
            } else {
                ErrorCode::Provider
            };
            let message = payload.get("message").and_then(Value::as_str).unwrap_or("");
            let mut e = Error::new(code, format!("Bedrock stream exception {kind}: {message}"));
            e.provider_code = Some(kind.to_string());
            return Err(e);
        }
        Ok(match frame.header(":event-type").unwrap_or("") {
            "messageStart" => {
                vec![self.chunk(json!({ "role": "assistant", "content": "" }), Value::Null)]
            }
            "contentBlockStart" => {
                let Some(tool) = payload.pointer("/start/toolUse") else {
                    return Ok(Vec::new());
                };
                let index = payload
                    .get("contentBlockIndex")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let tool_index = self.tools.len() as u64;
                self.tools.insert(index, tool_index);
                vec![self.chunk(json!({ "tool_calls": [{ "index": tool_index,
                    "id": tool.get("toolUseId").cloned().unwrap_or(Value::Null), "type": "function",
                    "function": { "name": tool.get("name").cloned().unwrap_or(Value::Null), "arguments": "" } }] }), Value::Null)]
            }
            "contentBlockDelta" => {
                let delta = payload.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = delta.get("text") {
                    vec![self.chunk(json!({ "content": t }), Value::Null)]
                } else if let Some(input) = delta.pointer("/toolUse/input") {
                    let index = payload
                        .get("contentBlockIndex")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    let tool_index = self.tools.get(&index).copied().unwrap_or(0);
                    vec![self.chunk(json!({ "tool_calls": [{ "index": tool_index, "function": { "arguments": input } }] }), Value::Null)]
                } else {
                    Vec::new()
                }
            }
            "messageStop" => {
                self.stopped = true;
                vec![self.chunk(
                    json!({}),
                    finish_reason(payload.get("stopReason").and_then(Value::as_str)),
                )]
            }
            "metadata" => {
                self.usage = payload.get("usage").cloned();
                self.finished = self.stopped;
                let mut usage = self.chunk(json!({}), Value::Null);
                usage["choices"] = json!([]);
                usage["usage"] = self.usage.as_ref().map(openai_usage).unwrap_or(Value::Null);
                vec![usage]
            }
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_path_encoded() {
        let t = "https://bedrock-runtime.us-east-1.amazonaws.com/model/{modelId}/converse";
        assert_eq!(
            model_url(t, "anthropic.claude-3-haiku-20240307-v1:0", false),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
        );
        assert!(model_url(t, "a/b", true).ends_with("/model/a%2Fb/converse-stream"));
    }
}
