//! The Bedrock Converse protocol, as Bedrock (or Cloudflare's `…/aws-bedrock/bedrock-runtime/
//! {region}/…` route) serves it: `POST /model/{modelId}/converse` with a bearer key, and
//! `…/converse-stream` answering AWS event-stream frames (`application/vnd.amazon.eventstream`),
//! with errors named in `x-amzn-ErrorType`; `GET /foundation-models` lists models.

use serde_json::{json, Value};

use crate::fault::{Faults, Route};
use crate::http::Request;
use crate::routes::{bad_fault, common_faults, header_fault_spec, request_faults, Next, Reply};
use crate::stream::send_framed;
use crate::State;

/// One event-stream frame with string headers.
pub(crate) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = (16 + h.len() + payload.len()) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude = crc32fast::hash(&out);
    out.extend_from_slice(&prelude.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn event(kind: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

fn aws_error(reply: &mut Reply, status: u16, kind: &str, message: &str) -> Next {
    reply.set_header(
        "x-amzn-errortype",
        format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    );
    reply.json(status, &json!({ "message": message }))
}

/// `GET /foundation-models`: `modelSummaries[].modelId`.
pub(crate) fn models(reply: &mut Reply) -> Next {
    reply.json(
        200,
        &json!({ "modelSummaries": [
            { "modelId": "anthropic.claude-3-haiku-20240307-v1:0", "providerName": "Anthropic" },
            { "modelId": "amazon.nova-lite-v1:0", "providerName": "Amazon" }
        ] }),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn last_user_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content").and_then(Value::as_array))
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// `POST …/model/{modelId}/converse[-stream]`.
pub(crate) fn converse(
    state: &State,
    reply: &mut Reply,
    req: &Request,
    model_segment: &str,
    stream: bool,
) -> Next {
    let model = percent_decode(model_segment);
    let Some(body) = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .filter(Value::is_object)
    else {
        return aws_error(
            reply,
            400,
            "ValidationException",
            "the body is not a JSON object",
        );
    };
    if body.get("messages").and_then(Value::as_array).is_none() {
        return aws_error(reply, 400, "ValidationException", "messages is required");
    }
    let faults = match request_faults(state, req, &header_fault_spec(req), Route::Chat) {
        Ok(faults) => faults,
        Err(message) => return bad_fault(reply, &message),
    };
    if let (Some(status), Some(kind)) = (faults.status, &faults.error_type) {
        return aws_error(reply, status, kind, "scripted Bedrock error");
    }
    if let Some(next) = common_faults(reply, &faults) {
        return next;
    }
    let text = format!("echo: {}", last_user_text(&body));
    let words = |t: &str| t.split_whitespace().count();
    let input = words(&last_user_text(&body));
    let usage = faults.usage.clone().unwrap_or_else(|| {
        json!({ "inputTokens": input, "outputTokens": words(&text), "totalTokens": input + words(&text) })
    });
    if stream {
        let frames = stream_frames(&text, &usage, &faults);
        return send_framed(
            reply,
            &frames,
            &faults,
            "application/vnd.amazon.eventstream",
        );
    }
    let (content, stop) = match &faults.tool_call {
        Some((name, args)) => (
            json!([{ "toolUse": { "toolUseId": "tooluse_1", "name": name,
                "input": serde_json::from_str::<Value>(args).unwrap_or(json!({})) } }]),
            "tool_use",
        ),
        None => (json!([{ "text": text }]), "end_turn"),
    };
    reply.set_header("x-mock-bedrock-model", model);
    reply.json(
        200,
        &json!({ "output": { "message": { "role": "assistant", "content": content } },
            "stopReason": stop, "usage": usage, "metrics": { "latencyMs": 1 } }),
    )
}

/// The frames of a streamed answer, with the stream faults: `truncate_after=k` (cut),
/// `error_type=X` (an exception frame after the first delta), `malformed_sse` (a corrupt frame).
fn stream_frames(text: &str, usage: &Value, faults: &Faults) -> Vec<Vec<u8>> {
    let mut frames = vec![event("messageStart", &json!({ "role": "assistant" }))];
    let (pieces_of, stop) = match &faults.tool_call {
        Some((name, args)) => {
            frames.push(event(
                "contentBlockStart",
                &json!({ "contentBlockIndex": 0,
                "start": { "toolUse": { "toolUseId": "tooluse_1", "name": name } } }),
            ));
            (args.as_str(), "tool_use")
        }
        None => (text, "end_turn"),
    };
    let chars: Vec<char> = pieces_of.chars().collect();
    let size = chars
        .len()
        .div_ceil(faults.chunks.unwrap_or(4).max(1))
        .max(1);
    for (i, piece) in chars.chunks(size).enumerate() {
        let piece: String = piece.iter().collect();
        let delta = match faults.tool_call {
            Some(_) => json!({ "toolUse": { "input": piece } }),
            None => json!({ "text": piece }),
        };
        frames.push(event(
            "contentBlockDelta",
            &json!({ "contentBlockIndex": 0, "delta": delta }),
        ));
        if i == 0 {
            if let Some(kind) = &faults.error_type {
                frames.push(frame(
                    &[
                        (":exception-type", kind),
                        (":content-type", "application/json"),
                        (":message-type", "exception"),
                    ],
                    json!({ "message": "scripted stream exception" })
                        .to_string()
                        .as_bytes(),
                ));
                return frames;
            }
            if faults.malformed_sse {
                let mut bad = event(
                    "contentBlockDelta",
                    &json!({ "contentBlockIndex": 0, "delta": { "text": "x" } }),
                );
                let at = bad.len() - 6;
                bad[at] ^= 0x20;
                frames.push(bad);
            }
        }
    }
    frames.push(event(
        "contentBlockStop",
        &json!({ "contentBlockIndex": 0 }),
    ));
    frames.push(event("messageStop", &json!({ "stopReason": stop })));
    frames.push(event(
        "metadata",
        &json!({ "usage": usage, "metrics": { "latencyMs": 1 } }),
    ));
    if let Some(k) = faults.truncate_after {
        frames.truncate(k.min(frames.len().saturating_sub(1)));
    }
    frames
}
