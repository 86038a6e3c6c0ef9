//! AWS event-stream target: `eventstream::Decoder` on any bytes. Decoding never panics; feeding
//! the bytes whole or split at any point gives the same frames and the same error; and any bytes
//! framed with `eventstream::encode` come back out unchanged.

use std::collections::VecDeque;

use aigw_core::eventstream::{encode, Decoder, Frame};

use crate::{ensure, Violation};

/// Frame preludes, header type bytes and Bedrock's header names.
pub fn dictionary() -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = [
        ":event-type",
        ":message-type",
        ":exception-type",
        ":content-type",
        "messageStart",
        "contentBlockDelta",
        "messageStop",
        "metadata",
        "exception",
        "event",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    words.push(encode(&[(":event-type", "messageStop")], b"{}"));
    words.push(vec![0, 0, 0, 16, 0, 0, 0, 0]);
    words.push(vec![0xff, 0xff, 0xff, 0xff]);
    words
}

fn decode(parts: &[&[u8]]) -> (Vec<Frame>, Option<String>) {
    let mut decoder = Decoder::new(1 << 16);
    let mut out = VecDeque::new();
    for part in parts {
        if let Err(e) = decoder.feed(part, &mut out) {
            return (out.into_iter().collect(), Some(e.message));
        }
    }
    (out.into_iter().collect(), None)
}

/// The properties above; the first byte picks the split point.
pub fn check(input: &[u8]) -> Result<(), Violation> {
    let whole = decode(&[input]);
    let split = input
        .first()
        .map_or(0, |b| usize::from(*b) % (input.len() + 1));
    let (a, b) = input.split_at(split);
    let parts = decode(&[a, b]);
    ensure(whole.0 == parts.0, "split_invariant_frames", || {
        format!(
            "{} frames whole, {} split at {split}",
            whole.0.len(),
            parts.0.len()
        )
    })?;
    ensure(
        whole.1.is_some() == parts.1.is_some(),
        "split_invariant_error",
        || format!("whole: {:?}; split at {split}: {:?}", whole.1, parts.1),
    )?;
    let framed = encode(&[(":event-type", "fuzz")], input);
    let (frames, error) = decode(&[&framed]);
    ensure(
        error.is_none() && frames.len() == 1 && frames[0].payload == input,
        "round_trip",
        || format!("{} frames, error {error:?}", frames.len()),
    )
}
