//! Anthropic stream target: SSE bytes decoded and translated event by event by
//! `anthropic::StreamTranslator`. Translation never panics, and every chunk it yields is a
//! `chat.completion.chunk` with at most one choice (the usage chunk has none).

use std::collections::VecDeque;

use aigw_core::anthropic::StreamTranslator;
use aigw_core::sse::SseDecoder;
use serde_json::Value;

use crate::{ensure, Violation};

/// Event names and the fields Anthropic's events carry.
pub fn dictionary() -> Vec<Vec<u8>> {
    [
        "event: message_start\n",
        "event: content_block_start\n",
        "event: content_block_delta\n",
        "event: message_delta\n",
        "event: message_stop\n",
        "event: error\n",
        "event: ping\n",
        "\"type\":\"tool_use\"",
        "\"type\":\"text_delta\"",
        "\"type\":\"input_json_delta\"",
        "\"partial_json\":",
        "\"stop_reason\":\"tool_use\"",
        "\"index\":",
        "\"usage\":",
        "\"input_tokens\":",
        "\"output_tokens\":",
        "\"cache_read_input_tokens\":",
        "\"content_block\":",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// The properties above.
pub fn check(input: &[u8]) -> Result<(), Violation> {
    let mut decoder = SseDecoder::new(1 << 16);
    let mut events = VecDeque::new();
    if decoder.feed(input, &mut events).is_err() {
        return Ok(());
    }
    let mut translator = StreamTranslator::new();
    for event in events {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        let Ok(chunks) = translator.on_event(event.event.as_deref(), &data) else {
            continue;
        };
        for chunk in chunks {
            let choices = chunk
                .get("choices")
                .and_then(Value::as_array)
                .map_or(usize::MAX, Vec::len);
            ensure(
                chunk.get("object").and_then(Value::as_str) == Some("chat.completion.chunk")
                    && choices <= 1,
                "chunk_shape",
                || chunk.to_string(),
            )?;
        }
    }
    Ok(())
}
