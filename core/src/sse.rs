//! Server-sent events decoding per the WHATWG rules: BOM skipped, CRLF/CR/LF line ends,
//! comments, multi-line `data`, events without data not dispatched, input split at any byte.
//! Each input byte is scanned once, so 1-byte feeding stays linear.

use std::collections::VecDeque;

use crate::error::{Error, Result};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` type, if any (a top-level `error:` line sets `error`).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen.
    pub id: Option<String>,
}

/// Incremental decoder: feed bytes as they arrive, collect whole events.
#[derive(Debug)]
pub struct SseDecoder {
    buf: Vec<u8>,
    scan_from: usize,
    skip_lf: bool,
    at_start: bool,
    data: Vec<u8>,
    has_data: bool,
    event: Option<String>,
    last_id: Option<String>,
    max_event_bytes: usize,
    dispatched: usize,
    scanned: usize,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseDecoder {
    /// A decoder that refuses events (or lines) larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> SseDecoder {
        SseDecoder {
            buf: Vec::new(),
            scan_from: 0,
            skip_lf: false,
            at_start: true,
            data: Vec::new(),
            has_data: false,
            event: None,
            last_id: None,
            max_event_bytes,
            dispatched: 0,
            scanned: 0,
        }
    }

    /// Events dispatched so far.
    pub fn dispatched(&self) -> usize {
        self.dispatched
    }

    /// Bytes examined so far; stays proportional to the input (the linearity guarantee).
    pub fn bytes_scanned(&self) -> usize {
        self.scanned
    }

    /// Whether bytes of an unfinished event are pending (used to tell truncation apart).
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty() || self.has_data
    }

    /// Decodes `bytes`, appending every completed event to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<SseEvent>) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        if self.at_start {
            let n = self.buf.len().min(BOM.len());
            if self.buf[..n] != BOM[..n] {
                self.at_start = false;
            } else if n == BOM.len() {
                self.buf.drain(..BOM.len());
                self.at_start = false;
            } else {
                return Ok(()); // a BOM prefix: wait for more bytes
            }
        }
        let mut line_start = 0;
        let mut i = self.scan_from;
        while i < self.buf.len() {
            self.scanned += 1;
            let b = self.buf[i];
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' && i == line_start {
                    i += 1;
                    line_start = i;
                    continue;
                }
            }
            if b == b'\n' || b == b'\r' {
                if i - line_start > self.max_event_bytes {
                    return Err(self.too_large());
                }
                let line = self.buf[line_start..i].to_vec();
                self.process_line(&line, out)?;
                self.skip_lf = b == b'\r';
                i += 1;
                line_start = i;
            } else {
                i += 1;
            }
        }
        self.buf.drain(..line_start);
        self.scan_from = self.buf.len();
        if self.buf.len() > self.max_event_bytes {
            return Err(self.too_large());
        }
        Ok(())
    }

    /// The limit applies to every line and every event's data, however the bytes were split.
    fn too_large(&self) -> Error {
        Error::protocol(format!(
            "stream event exceeds {} bytes",
            self.max_event_bytes
        ))
    }

    fn process_line(&mut self, line: &[u8], out: &mut VecDeque<SseEvent>) -> Result<()> {
        if line.is_empty() {
            if self.has_data {
                let data = String::from_utf8(std::mem::take(&mut self.data))
                    .map_err(|_| Error::protocol("stream event data is not valid UTF-8"))?;
                out.push_back(SseEvent {
                    event: self.event.take(),
                    data,
                    id: self.last_id.clone(),
                });
                self.dispatched += 1;
            } else {
                self.event = None;
            }
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" | b"error" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                if self.data.len() > self.max_event_bytes {
                    return Err(self.too_large());
                }
                self.has_data = true;
                if field == b"error" {
                    self.event = Some("error".to_string());
                }
            }
            b"event" => {
                self.event = Some(
                    String::from_utf8(value.to_vec())
                        .map_err(|_| Error::protocol("stream event type is not valid UTF-8"))?,
                );
            }
            b"id" if !value.contains(&0) => {
                self.last_id = String::from_utf8(value.to_vec()).ok();
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Vec<SseEvent> {
        let mut d = SseDecoder::new(16 << 20);
        let mut out = VecDeque::new();
        for piece in input.chunks(step.max(1)) {
            d.feed(piece, &mut out).expect("decode");
        }
        out.into_iter().collect()
    }

    fn datas(input: &[u8], step: usize) -> Vec<String> {
        decode_all(input, step)
            .into_iter()
            .map(|e| e.data)
            .collect()
    }

    #[test]
    fn line_endings_all_work_at_every_split() {
        for input in [
            &b"data: a\n\ndata: b\n\n"[..],
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            b"data: a\r\rdata: b\r\r",
        ] {
            for step in 1..input.len() {
                assert_eq!(
                    datas(input, step),
                    ["a", "b"],
                    "step {step} input {input:?}"
                );
            }
        }
    }

    #[test]
    fn bom_skipped_even_split() {
        let input = b"\xEF\xBB\xBFdata: x\n\n";
        for step in 1..4 {
            assert_eq!(datas(input, step), ["x"]);
        }
        // A BOM later in the stream is data, not skipped.
        assert_eq!(datas(b"data: \xEF\xBB\xBFy\n\n", 1), ["\u{feff}y"]);
    }

    #[test]
    fn comments_multiline_and_event_only() {
        let input = b": keep-alive\n\nevent: ping\n\ndata: a\ndata: b\n\ndata\n\n";
        let events = decode_all(input, 3);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data, "a\nb");
        assert_eq!(events[1].data, "");
    }

    #[test]
    fn event_error_and_error_line() {
        let events = decode_all(
            b"event: error\ndata: {\"message\":\"x\"}\n\nerror: {\"m\":1}\n\n",
            2,
        );
        assert_eq!(events[0].event.as_deref(), Some("error"));
        assert_eq!(events[1].event.as_deref(), Some("error"));
        assert_eq!(events[1].data, "{\"m\":1}");
    }

    #[test]
    fn utf8_split_inside_sequence() {
        let input = "data: h\u{e9}llo \u{1f980}\n\n".as_bytes();
        for step in 1..5 {
            assert_eq!(datas(input, step), ["h\u{e9}llo \u{1f980}"]);
        }
    }

    #[test]
    fn invalid_utf8_is_protocol_error() {
        let mut d = SseDecoder::new(1024);
        let mut out = VecDeque::new();
        let err = d.feed(b"data: \xff\xfe\n\n", &mut out).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::Protocol);
    }

    #[test]
    fn incomplete_event_not_dispatched_and_pending() {
        let mut d = SseDecoder::new(1024);
        let mut out = VecDeque::new();
        d.feed(b"data: partial\n", &mut out).unwrap();
        assert!(out.is_empty());
        assert!(d.has_pending());
    }

    #[test]
    fn oversized_event_refused_however_it_is_split() {
        for input in [
            &b"data: 0123456789abcdef"[..],
            b"data: 0123456789\n\n",
            b"event: message_start\ndata: x\n\n",
            b"data: 01234\ndata: 56789\n\n",
        ] {
            for step in [1, 3, input.len()] {
                let mut d = SseDecoder::new(8);
                let mut out = VecDeque::new();
                let failed = input.chunks(step).any(|p| d.feed(p, &mut out).is_err());
                assert!(
                    failed,
                    "{:?} in pieces of {step} passed the 8-byte limit",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn one_byte_feeding_of_a_megabyte_event_is_linear() {
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', 1 << 20));
        input.extend_from_slice(b"\n\n");
        let mut d = SseDecoder::new(4 << 20);
        let mut out = VecDeque::new();
        for b in &input {
            d.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data.len(), 1 << 20);
        // Every byte is examined once: rescanning the pending line would make this quadratic.
        assert!(
            d.bytes_scanned() <= input.len(),
            "scanned {} for {}",
            d.bytes_scanned(),
            input.len()
        );
    }
}
