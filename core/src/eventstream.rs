//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
//! `converse-stream` sends it: each frame is a prelude (total length, headers length, CRC32 of
//! both), headers, a payload and a CRC32 of the whole frame. Decoding is incremental and linear:
//! bytes are fed as they arrive, whole frames come out, and a frame larger than the limit, a
//! CRC mismatch or malformed headers is a `PROTOCOL` error.

use std::collections::VecDeque;

use crate::error::{Error, Result};

/// Prelude (12 bytes) plus the trailing message CRC (4 bytes).
const OVERHEAD: usize = 16;

/// One decoded frame: its string headers and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Headers whose value is a string (`:message-type`, `:event-type`, `:exception-type`…).
    pub headers: Vec<(String, String)>,
    /// The payload (JSON for Bedrock).
    pub payload: Vec<u8>,
}

impl Frame {
    /// The string header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Incremental decoder; see the module comment.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
    frames: u64,
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

impl Decoder {
    /// A decoder refusing frames over `max_frame` bytes.
    pub fn new(max_frame: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_frame: max_frame.max(OVERHEAD),
            frames: 0,
        }
    }

    /// Frames decoded so far.
    pub fn decoded(&self) -> u64 {
        self.frames
    }

    /// Whether bytes of an unfinished frame are waiting.
    pub fn has_partial(&self) -> bool {
        self.start < self.buf.len()
    }

    /// Feeds bytes; every whole frame is appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<Frame>) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        loop {
            let pending = &self.buf[self.start..];
            if pending.len() < 12 {
                break;
            }
            let total = be32(&pending[0..4]);
            let headers_len = be32(&pending[4..8]);
            if crc32fast::hash(&pending[0..8]) as usize != be32(&pending[8..12]) {
                return Err(self.error("prelude CRC mismatch"));
            }
            if total < OVERHEAD || headers_len > total - OVERHEAD || total > self.max_frame {
                return Err(self.error(&format!(
                    "frame length {total} (headers {headers_len}) is invalid or over the limit of {} bytes",
                    self.max_frame
                )));
            }
            if pending.len() < total {
                break;
            }
            let frame = &pending[..total];
            if crc32fast::hash(&frame[..total - 4]) as usize != be32(&frame[total - 4..]) {
                return Err(self.error("message CRC mismatch"));
            }
            let headers = parse_headers(&frame[12..12 + headers_len])
                .ok_or_else(|| self.error("malformed headers"))?;
            out.push_back(Frame {
                headers,
                payload: frame[12 + headers_len..total - 4].to_vec(),
            });
            self.frames += 1;
            self.start += total;
        }
        // Keep the buffer from growing: drop consumed bytes once they dominate.
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(())
    }

    fn error(&self, what: &str) -> Error {
        Error::protocol(format!(
            "event-stream frame {} is corrupt: {what}",
            self.frames + 1
        ))
    }
}

/// String headers of a frame; other value types are skipped (their sizes are fixed or
/// length-prefixed). `None` when a header runs past the end.
fn parse_headers(mut b: &[u8]) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    while !b.is_empty() {
        let name_len = *b.first()? as usize;
        let name = std::str::from_utf8(b.get(1..1 + name_len)?)
            .ok()?
            .to_string();
        b = b.get(1 + name_len..)?;
        let kind = *b.first()?;
        b = b.get(1..)?;
        let fixed = match kind {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            9 => 16,
            6 | 7 => {
                let len = u16::from_be_bytes([*b.first()?, *b.get(1)?]) as usize;
                let value = b.get(2..2 + len)?;
                if kind == 7 {
                    headers.push((name, std::str::from_utf8(value).ok()?.to_string()));
                }
                b = b.get(2 + len..)?;
                continue;
            }
            _ => return None,
        };
        b = b.get(fixed..)?;
    }
    Some(headers)
}

/// Encodes a frame with string headers (tests, the mock and fuzzing use it).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = (OVERHEAD + h.len() + payload.len()) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_whatever_the_split() {
        let a = encode(
            &[(":event-type", "messageStart")],
            br#"{"role":"assistant"}"#,
        );
        let b = encode(&[(":message-type", "event")], b"{}");
        let all = [a.clone(), b.clone()].concat();
        for split in 0..all.len() {
            let mut d = Decoder::new(1 << 20);
            let mut out = VecDeque::new();
            d.feed(&all[..split], &mut out).unwrap();
            d.feed(&all[split..], &mut out).unwrap();
            assert_eq!(out.len(), 2, "split at {split}");
            assert_eq!(out[0].header(":event-type"), Some("messageStart"));
            assert_eq!(out[1].payload, b"{}");
            assert!(!d.has_partial());
        }
    }

    #[test]
    fn corruption_and_oversize_are_protocol_errors() {
        let mut frame = encode(&[(":event-type", "x")], b"payload");
        let last = frame.len() - 6;
        frame[last] ^= 1;
        let mut out = VecDeque::new();
        let e = Decoder::new(1 << 20).feed(&frame, &mut out).unwrap_err();
        assert!(e.message.contains("message CRC mismatch"), "{}", e.message);
        let big = encode(&[], &[b'x'; 100]);
        let e = Decoder::new(64).feed(&big, &mut out).unwrap_err();
        assert!(e.message.contains("over the limit"), "{}", e.message);
        let mut bad_prelude = encode(&[], b"x");
        bad_prelude[9] ^= 1;
        let e = Decoder::new(1 << 20)
            .feed(&bad_prelude, &mut out)
            .unwrap_err();
        assert!(e.message.contains("prelude CRC"), "{}", e.message);
    }
}
