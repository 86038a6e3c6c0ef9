//! `stream: true` answers: the answer split into `chat.completion.chunk` server-sent events,
//! each written as its own HTTP chunk with its own flush, with the stream faults (stalls,
//! resets, truncation, odd framing, bytes split across writes) applied on the way.

use std::io;
use std::time::Duration;

use serde_json::{json, Value};

use crate::fault::Faults;
use crate::http::{self, Wire};
use crate::routes::{with_raw_bytes, Answer, Next, Reply, PLACEHOLDER};

/// Chunks per stream when no `chunks=<n>` fault says otherwise (or fewer for short answers).
const DEFAULT_MAX_CHUNKS: usize = 16;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Content of the `invalid_utf8_sse` event: not UTF-8 at all.
const INVALID_UTF8: &[u8] = b"\xff\xff";

pub(crate) fn send(reply: &mut Reply, answer: &Answer, faults: &Faults) -> Next {
    send_events(reply, &build_events(answer, faults), faults)
}

/// Writes framed SSE events as one chunked answer, with the stream faults (stalls, resets,
/// bytes split across writes) applied on the way.
pub(crate) fn send_events(reply: &mut Reply, events: &[Vec<u8>], faults: &Faults) -> Next {
    send_framed(reply, events, faults, "text/event-stream")
}

/// [`send_events`] for any framing (`content_type` names it).
pub(crate) fn send_framed(
    reply: &mut Reply,
    events: &[Vec<u8>],
    faults: &Faults,
    content_type: &str,
) -> Next {
    let extra = [
        ("content-type", content_type.to_string()),
        ("cache-control", "no-cache".to_string()),
        ("transfer-encoding", "chunked".to_string()),
    ];
    if reply.start(200, &extra).is_err() {
        return Next::Close;
    }
    let mut out = EventWriter {
        w: reply.w,
        split_bytes: faults.split_bytes,
        utf8_split: faults.utf8_split,
        bom_pending: faults.bom,
    };
    let stall = || {
        std::thread::sleep(Duration::from_millis(faults.stall_ms));
    };
    for (index, event) in events.iter().enumerate() {
        if faults.reset_after == Some(index) {
            return Next::Abort;
        }
        if faults.stall_after == Some(index) {
            stall();
        }
        if out.write(event).is_err() {
            return Next::Close;
        }
    }
    // Counts past the last event still apply, just before the body would end.
    if faults.reset_after.is_some_and(|k| k >= events.len()) {
        return Next::Abort;
    }
    if faults.stall_after.is_some_and(|k| k >= events.len()) {
        stall();
    }
    match http::write_last_chunk(out.w) {
        Ok(()) => reply.done(),
        Err(_) => Next::Close,
    }
}

/// The framed events of the stream, in order, `[DONE]` included when the stream ends properly.
fn build_events(answer: &Answer, faults: &Faults) -> Vec<Vec<u8>> {
    let eol = faults.line_ending.as_bytes();
    let frame = |fields: &[(&str, &[u8])]| -> Vec<u8> {
        let mut event = Vec::new();
        if faults.comments {
            event.extend_from_slice(b": keep-alive");
            event.extend_from_slice(eol);
        }
        for (name, value) in fields {
            event.extend_from_slice(name.as_bytes());
            event.extend_from_slice(b": ");
            event.extend_from_slice(value);
            event.extend_from_slice(eol);
        }
        event.extend_from_slice(eol);
        event
    };
    let data = |value: &[u8]| frame(&[("data", value)]);

    // A tool call streams its arguments the way text streams its content.
    let text = match &answer.tool_call {
        Some((_, args)) => args.as_str(),
        None => answer.content.as_str(),
    };
    let count = faults
        .chunks
        .unwrap_or_else(|| text.chars().count().clamp(1, DEFAULT_MAX_CHUNKS));
    let pieces = split_chars(text, count);
    // A truncated stream never carries a finish_reason: the client must see it as cut short.
    let (sent, truncated) = match faults.truncate_after {
        Some(k) => (k.min(count), true),
        None => (count, false),
    };

    let mut events = Vec::new();
    for (index, piece) in pieces.iter().take(sent).enumerate() {
        let last = index + 1 == count && !truncated;
        events.push(data(
            chunk(answer, index == 0, piece, last)
                .to_string()
                .as_bytes(),
        ));
        if index > 0 {
            continue;
        }
        // Broken events go right after the first good one, so the client has started streaming.
        if faults.malformed_sse {
            events.push(data(b"{not json"));
        }
        if faults.invalid_utf8_sse {
            let template = chunk(answer, false, PLACEHOLDER, false);
            events.push(data(&with_raw_bytes(&template, INVALID_UTF8)));
        }
        let echo = faults
            .echo
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        if faults.sse_error_frame {
            let error = json!({"error": {
                "message": format!("upstream overloaded{echo}"),
                "type": "server_error",
                "code": "overloaded",
            }});
            events.push(data(error.to_string().as_bytes()));
            return events;
        }
        if faults.sse_event_error {
            let error = json!({ "message": format!("boom{echo}") }).to_string();
            events.push(frame(&[("event", b"error"), ("data", error.as_bytes())]));
            return events;
        }
    }
    if !truncated && answer.include_usage {
        // OpenAI's usage chunk: no choices, the whole usage.
        let usage = json!({
            "id": answer.id,
            "object": "chat.completion.chunk",
            "created": answer.created,
            "model": answer.model,
            "choices": [],
            "usage": answer.usage(),
        });
        events.push(data(usage.to_string().as_bytes()));
    }
    if !truncated {
        events.push(data(b"[DONE]"));
    }
    events
}

fn chunk(answer: &Answer, first: bool, piece: &str, last: bool) -> Value {
    let delta = match (&answer.tool_call, first) {
        (Some((name, _)), true) => json!({"role": "assistant", "content": null, "tool_calls": [{
            "index": 0,
            "id": answer.tool_call_id(),
            "type": "function",
            "function": {"name": name, "arguments": piece},
        }]}),
        (Some(_), false) => json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
        (None, true) => json!({"role": "assistant", "content": piece}),
        (None, false) => json!({"content": piece}),
    };
    let finish = match (last, &answer.tool_call) {
        (false, _) => Value::Null,
        (true, Some(_)) => json!("tool_calls"),
        (true, None) => json!("stop"),
    };
    json!({
        "id": answer.id,
        "object": "chat.completion.chunk",
        "created": answer.created,
        "model": answer.model,
        "choices": [{
            "index": 0,
            "delta": delta,
            "finish_reason": finish,
        }],
    })
}

/// `count` consecutive pieces of near-equal length in chars (some empty when the text is
/// shorter than `count`), always split on char boundaries.
fn split_chars(text: &str, count: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len() as u128;
    let count = count.max(1);
    let bound = |i: usize| (i as u128 * len / count as u128) as usize;
    (0..count)
        .map(|i| chars[bound(i)..bound(i + 1)].iter().collect())
        .collect()
}

/// Writes events as HTTP chunks, one write and flush each (or several, for the split faults).
struct EventWriter<'a> {
    w: &'a mut Wire,
    split_bytes: bool,
    utf8_split: bool,
    bom_pending: bool,
}

impl EventWriter<'_> {
    fn write(&mut self, event: &[u8]) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(event.len() + UTF8_BOM.len());
        if self.bom_pending {
            bytes.extend_from_slice(UTF8_BOM);
            self.bom_pending = false;
        }
        bytes.extend_from_slice(event);

        if self.split_bytes {
            bytes
                .chunks(1)
                .try_for_each(|byte| http::write_chunk(self.w, byte))
        } else if self.utf8_split {
            let (head, tail) = bytes.split_at(split_inside_char(&bytes));
            http::write_chunk(self.w, head)?;
            http::write_chunk(self.w, tail)
        } else {
            http::write_chunk(self.w, &bytes)
        }
    }
}

/// A split point just after the lead byte of the multi-byte char nearest the middle, so the
/// two writes cut that char in half; the middle byte when the event is all ASCII.
fn split_inside_char(bytes: &[u8]) -> usize {
    let middle = bytes.len() / 2;
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b >= 0xC0)
        .map(|(i, _)| i + 1)
        .min_by_key(|at| at.abs_diff(middle))
        .unwrap_or(middle.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_on_char_boundaries() {
        let text = "héllo 🦀 中";
        for count in 1..20 {
            let pieces = split_chars(text, count);
            assert_eq!(pieces.len(), count);
            assert_eq!(pieces.concat(), text);
        }
        assert_eq!(split_chars("", 3), vec!["", "", ""]);
    }

    #[test]
    fn utf8_split_lands_inside_a_char() {
        let event = "data: {\"content\":\"a中b\"}\n\n".as_bytes();
        let at = split_inside_char(event);
        assert!(std::str::from_utf8(&event[..at]).is_err());
        assert_eq!(split_inside_char(b"data: [DONE]\n\n"), 7);
    }
}
