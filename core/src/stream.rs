//! A streaming chat answer: SSE events decoded as bytes arrive, `[DONE]` and error frames
//! interpreted, truncation detected, and cancellation from another thread. A response that is
//! not `text/event-stream` (Cloudflare buffers streams under Guardrails) is yielded as one item.

use std::collections::VecDeque;
use std::io::Read;

use serde_json::Value;
use ureq::http::Response;
use ureq::{Body, BodyReader};

use crate::anthropic::StreamTranslator;
use crate::cancel::{cancelled_error, CancelToken};
use crate::error::{Error, ErrorCode, Result};
use crate::gateway::parse_error_value;
use crate::scrub::Scrubber;
use crate::sse::{SseDecoder, SseEvent};
use crate::transport::{self, Deadline, Phase};
use crate::usage::{cost_json, Price, PriceSource, Usage};

/// Bytes taken from the connection per read (ureq's own input buffer, 16 KiB, sits underneath).
const READ_CHUNK: usize = 16 * 1024;

/// One streamed item: the JSON text as received and its parsed value.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChunk {
    /// The chunk's JSON text (the SSE `data`, or the whole body in the non-SSE fallback).
    pub text: String,
    /// The parsed chunk.
    pub value: Value,
}

/// Cancels a stream from any thread; the stream's next read returns `CANCELLED`.
pub type CancelHandle = CancelToken;

enum Source {
    Sse(BodyReader<'static>),
    Buffered(Body),
    Closed,
}

/// What one step of reading a stream gave.
enum Step {
    Chunk(StreamChunk),
    End,
    /// Nothing received so far holds another chunk: only a read can tell.
    NeedsRead,
}

/// What one read from the body gave.
enum BodyRead {
    Bytes(usize),
    /// The body ended.
    Eof,
    /// No read was made: the stream is closed, or reading is not allowed now.
    Stop(Step),
}

/// An open chat stream. Dropping it (or `close()`) drops the connection if unfinished.
pub struct ChatStream {
    source: Source,
    decoder: SseDecoder,
    queue: VecDeque<SseEvent>,
    meta: Value,
    url: String,
    deadline: Deadline,
    max_bytes: u64,
    cancel: CancelToken,
    scrubber: Scrubber,
    saw_finish: bool,
    done: bool,
    buf: Vec<u8>,
    /// The last `usage` an event carried (the usage-only final chunk, usually).
    usage: Option<Value>,
    /// The model's price, for `cost` at the end.
    price: Option<(Price, PriceSource)>,
    /// Set once `usage` and `cost` are in the metadata.
    usage_settled: bool,
    /// For a protocol other than OpenAI's: turns its events into OpenAI chunks.
    translator: Option<StreamTranslator>,
    /// Bedrock's binary event-stream framing, when the answer uses it.
    event_stream: Option<Box<EventStream>>,
    /// Chunks translated from one event and not handed out yet.
    pending: VecDeque<StreamChunk>,
    /// A decoding error met after whole events of the same read: raised once those are out,
    /// so what arrived intact is delivered however the bytes were split across reads.
    deferred: Option<Error>,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("url", &self.url)
            .field("done", &self.done)
            .finish()
    }
}

impl ChatStream {
    pub(crate) fn open(
        response: Response<Body>,
        meta: Value,
        url: String,
        deadline: Deadline,
        max_bytes: u64,
        cancel: CancelToken,
        scrubber: Scrubber,
    ) -> ChatStream {
        let is_sse = transport::header(response.headers(), "content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/event-stream"));
        let body = response.into_body();
        let source = if is_sse {
            Source::Sse(body.into_with_config().limit(u64::MAX).reader())
        } else {
            Source::Buffered(body)
        };
        ChatStream {
            source,
            decoder: SseDecoder::new(usize::try_from(max_bytes).unwrap_or(usize::MAX)),
            queue: VecDeque::new(),
            meta,
            url,
            deadline,
            max_bytes,
            cancel,
            scrubber,
            saw_finish: false,
            done: false,
            buf: vec![0u8; READ_CHUNK],
            usage: None,
            price: None,
            usage_settled: false,
            translator: None,
            event_stream: None,
            pending: VecDeque::new(),
            deferred: None,
        }
    }

    /// Reads the stream as Bedrock `converse-stream` event-stream frames, translated into
    /// OpenAI chunks.
    pub(crate) fn bedrock(mut self, model: &str) -> ChatStream {
        self.event_stream = Some(Box::new(EventStream {
            decoder: crate::eventstream::Decoder::new(
                usize::try_from(self.max_bytes).unwrap_or(usize::MAX),
            ),
            frames: VecDeque::new(),
            translator: crate::bedrock::StreamTranslator::new(model),
        }));
        if let Source::Buffered(body) = std::mem::replace(&mut self.source, Source::Closed) {
            self.source = Source::Sse(body.into_with_config().limit(u64::MAX).reader());
        }
        self
    }

    /// Reads the stream as Anthropic Messages events, translated into OpenAI chunks.
    pub(crate) fn anthropic(mut self) -> ChatStream {
        self.translator = Some(StreamTranslator::new());
        self
    }

    /// Sets the model's price, used for `cost` when the stream ends.
    pub(crate) fn with_price(mut self, price: Option<(Price, PriceSource)>) -> ChatStream {
        self.price = price;
        self
    }

    /// Puts `usage` (normalised) and `cost` into the metadata once the stream ended properly.
    fn settle_usage(&mut self) {
        if self.usage_settled {
            return;
        }
        self.usage_settled = true;
        let upstream = match (&self.translator, &self.event_stream) {
            (Some(t), _) => t.usage(),
            (_, Some(es)) => es.translator.usage(),
            _ => self.usage.clone(),
        };
        let usage = Usage::from_upstream(upstream.as_ref());
        if let Value::Object(meta) = &mut self.meta {
            meta.insert("usage".to_string(), usage.to_json());
            meta.insert("cost".to_string(), cost_json(&usage, self.price));
        }
    }

    /// Remembers the usage a chunk carries.
    fn note_usage(&mut self, value: &Value) {
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
    }

    /// The response metadata (status, model, request id, Cloudflare log id, attempts…; `usage`
    /// and `cost` once the stream ended).
    pub fn meta(&self) -> &Value {
        &self.meta
    }

    /// A handle that cancels this stream from another thread.
    pub fn cancel_handle(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Closes the stream now; the connection is dropped unless the body was finished.
    pub fn close(&mut self) {
        self.source = Source::Closed;
        self.done = true;
    }

    /// The next chunk, `Ok(None)` at the end, or a typed error (after which the stream is closed).
    /// Error texts are scrubbed of the client's secrets (an upstream may quote them in an error
    /// frame); the frame is whole by then, so a secret split across reads is caught too.
    pub fn next_chunk(&mut self) -> Result<Option<StreamChunk>> {
        match self.step(true)? {
            Step::Chunk(chunk) => Ok(Some(chunk)),
            // `NeedsRead` cannot happen when reading is allowed.
            Step::End | Step::NeedsRead => Ok(None),
        }
    }

    /// [`ChatStream::next_chunk`] without touching the network: the next chunk (or the end, or
    /// the error) when what was received already holds it, `None` when a read would be needed.
    /// Bindings use it to hand over every chunk that arrived together in one batch.
    pub fn next_chunk_ready(&mut self) -> Option<Result<Option<StreamChunk>>> {
        match self.step(false) {
            Ok(Step::Chunk(chunk)) => Some(Ok(Some(chunk))),
            Ok(Step::End) => Some(Ok(None)),
            Ok(Step::NeedsRead) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn step(&mut self, may_read: bool) -> Result<Step> {
        if self.cancel.is_set() {
            self.close();
            return Err(cancelled_error("stream"));
        }
        if let Some(chunk) = self.pending.pop_front() {
            return Ok(Step::Chunk(chunk));
        }
        if self.done {
            self.settle_usage();
            return Ok(Step::End);
        }
        match self.advance(may_read) {
            Ok(Step::End) => {
                self.settle_usage();
                Ok(Step::End)
            }
            Ok(Step::Chunk(chunk)) => {
                self.note_usage(&chunk.value);
                Ok(Step::Chunk(chunk))
            }
            Ok(Step::NeedsRead) => Ok(Step::NeedsRead),
            Err(e) => {
                self.close();
                Err(self.scrubber.scrub_error(e))
            }
        }
    }

    fn advance(&mut self, may_read: bool) -> Result<Step> {
        if self.event_stream.is_some() {
            return self.advance_event_stream(may_read);
        }
        if let Source::Buffered(_) = self.source {
            if !may_read {
                return Ok(Step::NeedsRead);
            }
            return Ok(self.read_buffered()?.map_or(Step::End, Step::Chunk));
        }
        loop {
            if let Some(event) = self.queue.pop_front() {
                if let Some(chunk) = self.interpret(event)? {
                    return Ok(Step::Chunk(chunk));
                }
                if self.done {
                    self.finish_body();
                    return Ok(Step::End);
                }
                continue;
            }
            let n = match self.read_more(may_read)? {
                BodyRead::Bytes(n) => n,
                BodyRead::Stop(step) => return Ok(step),
                BodyRead::Eof => {
                    let finished = match &self.translator {
                        Some(t) => t.stopped(),
                        None => self.saw_finish,
                    };
                    if finished {
                        return Ok(Step::End);
                    }
                    return Err(Error::protocol(format!(
                        "stream truncated after {} events: the body ended before [DONE] and before any finish_reason",
                        self.decoder.dispatched()
                    )));
                }
            };
            let fed = self.decoder.feed(&self.buf[..n], &mut self.queue);
            defer_after_decoded(fed, self.queue.is_empty(), &mut self.deferred)?;
        }
    }

    /// [`ChatStream::advance`] for event-stream framing: frames in, translated chunks out.
    fn advance_event_stream(&mut self, may_read: bool) -> Result<Step> {
        loop {
            let Some(es) = self.event_stream.as_mut() else {
                return Ok(Step::End);
            };
            if let Some(frame) = es.frames.pop_front() {
                let chunks = es.translator.on_frame(&frame)?;
                if es.translator.finished() {
                    self.done = true;
                }
                self.pending
                    .extend(chunks.into_iter().map(|value| StreamChunk {
                        text: value.to_string(),
                        value,
                    }));
                if let Some(chunk) = self.pending.pop_front() {
                    return Ok(Step::Chunk(chunk));
                }
                if self.done {
                    self.finish_body();
                    return Ok(Step::End);
                }
                continue;
            }
            let n = match self.read_more(may_read)? {
                BodyRead::Bytes(n) => n,
                BodyRead::Stop(step) => return Ok(step),
                BodyRead::Eof => {
                    let Some(es) = self.event_stream.as_ref() else {
                        return Ok(Step::End);
                    };
                    if es.translator.stopped() && !es.decoder.has_partial() {
                        return Ok(Step::End);
                    }
                    return Err(Error::protocol(format!(
                        "stream truncated after {} event-stream frames: the body ended before messageStop",
                        es.decoder.decoded()
                    )));
                }
            };
            let Some(es) = self.event_stream.as_mut() else {
                return Ok(Step::End);
            };
            let fed = es.decoder.feed(&self.buf[..n], &mut es.frames);
            defer_after_decoded(fed, es.frames.is_empty(), &mut self.deferred)?;
        }
    }

    /// The read both framings share: a decoding error kept from the previous read comes first,
    /// then (when reading is allowed) one read, with cancellation checked after it.
    fn read_more(&mut self, may_read: bool) -> Result<BodyRead> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        let Source::Sse(reader) = &mut self.source else {
            return Ok(BodyRead::Stop(Step::End));
        };
        if !may_read {
            return Ok(BodyRead::Stop(Step::NeedsRead));
        }
        let read = reader.read(&mut self.buf);
        if self.cancel.is_set() {
            return Err(cancelled_error("stream"));
        }
        let n = read.map_err(|e| {
            let e = transport::map_io_error(e, &self.url, self.deadline, Phase::StreamBody);
            if self.event_stream.is_some() {
                e
            } else {
                self.mid_stream_error(e)
            }
        })?;
        if n == 0 {
            self.done = true;
            self.source = Source::Closed;
            return Ok(BodyRead::Eof);
        }
        Ok(BodyRead::Bytes(n))
    }

    fn mid_stream_error(&self, mut e: Error) -> Error {
        if e.code == ErrorCode::Connection {
            e.message = format!(
                "connection lost after {} stream events: {}",
                self.decoder.dispatched(),
                e.message
            );
        }
        e
    }

    /// Reads what is left after `[DONE]` (the chunked terminator) so the connection can be
    /// reused; gives up quietly after a little data.
    fn finish_body(&mut self) {
        if let Source::Sse(reader) = &mut self.source {
            let mut rest = [0u8; 512];
            for _ in 0..4 {
                match reader.read(&mut rest) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        self.source = Source::Closed;
    }

    /// An event of a translated protocol: its chunks go to `pending`, the first is returned.
    fn translate(&mut self, event: SseEvent) -> Result<Option<StreamChunk>> {
        if let Some((text, value)) = self
            .translator
            .as_ref()
            .and_then(|t| t.text_delta(event.event.as_deref(), &event.data))
        {
            return Ok(Some(StreamChunk { text, value }));
        }
        let value: Value = serde_json::from_str(&event.data).map_err(|e| {
            Error::protocol(format!(
                "stream event {} from {} is not valid JSON: {e}",
                self.decoder.dispatched(),
                self.url
            ))
        })?;
        let Some(translator) = self.translator.as_mut() else {
            return Ok(None);
        };
        let chunks = translator.on_event(event.event.as_deref(), &value)?;
        if translator.stopped() {
            self.done = true;
        }
        self.pending
            .extend(chunks.into_iter().map(|value| StreamChunk {
                text: value.to_string(),
                value,
            }));
        Ok(self.pending.pop_front())
    }

    fn interpret(&mut self, event: SseEvent) -> Result<Option<StreamChunk>> {
        if self.translator.is_some() {
            return self.translate(event);
        }
        if event.event.as_deref() == Some("error") {
            let value: Value =
                serde_json::from_str(&event.data).unwrap_or(Value::String(event.data.clone()));
            return Err(stream_error(&value, &self.url));
        }
        if event.data == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let value: Value = serde_json::from_str(&event.data).map_err(|e| {
            Error::protocol(format!(
                "stream event {} from {} is not valid JSON: {e}",
                self.decoder.dispatched(),
                self.url
            ))
        })?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            return Err(stream_error(&value, &self.url));
        }
        if has_finish_reason(&value) {
            self.saw_finish = true;
        }
        Ok(Some(StreamChunk {
            text: event.data,
            value,
        }))
    }

    fn read_buffered(&mut self) -> Result<Option<StreamChunk>> {
        let Source::Buffered(mut body) = std::mem::replace(&mut self.source, Source::Closed) else {
            return Ok(None);
        };
        self.done = true;
        let raw = transport::read_body(&mut body, self.max_bytes, &self.url, self.deadline)?;
        let text = String::from_utf8(raw).map_err(|_| {
            Error::protocol(format!("response from {} is not valid UTF-8", self.url))
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            Error::protocol(format!(
                "response from {} is neither SSE nor valid JSON: {e}",
                self.url
            ))
        })?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            return Err(stream_error(&value, &self.url));
        }
        Ok(Some(StreamChunk { text, value }))
    }
}

impl Iterator for ChatStream {
    type Item = Result<StreamChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// A decoding error: raised now when nothing whole was decoded before it, else kept in
/// `deferred` until what was decoded has been handed out.
fn defer_after_decoded(
    fed: Result<()>,
    none_decoded: bool,
    deferred: &mut Option<Error>,
) -> Result<()> {
    match fed {
        Err(e) if none_decoded => Err(e),
        Err(e) => {
            *deferred = Some(e);
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

fn has_finish_reason(value: &Value) -> bool {
    value
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|choices| {
            choices
                .iter()
                .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
        })
}

/// The state of a Bedrock event-stream answer.
#[derive(Debug)]
struct EventStream {
    decoder: crate::eventstream::Decoder,
    frames: VecDeque<crate::eventstream::Frame>,
    translator: crate::bedrock::StreamTranslator,
}

/// The typed error of an error event or frame (`{"error": {…}}`), naming where it came from.
pub(crate) fn error_of(value: &Value, url: &str) -> Error {
    stream_error(value, url)
}

/// A typed error from an error frame, classified like the HTTP status it names, if any.
fn stream_error(value: &Value, url: &str) -> Error {
    let parsed = parse_error_value(value);
    let inner = value.get("error").unwrap_or(value);
    // An HTTP status in `status`, `status_code` or a numeric `code` (Google puts 429 there).
    let status = ["status", "status_code", "code"]
        .iter()
        .filter_map(|k| inner.get(*k).and_then(Value::as_u64))
        .filter_map(|n| u16::try_from(n).ok())
        .find(|n| (100..=599).contains(n));
    let words = format!(
        "{} {} {}",
        parsed.kind.as_deref().unwrap_or(""),
        parsed.code.as_deref().unwrap_or(""),
        inner.get("status").and_then(Value::as_str).unwrap_or("")
    )
    .to_ascii_lowercase();
    let code = match status {
        Some(s) => ErrorCode::from_http_status(s),
        None if words.contains("rate_limit") || words.contains("resource_exhausted") => {
            ErrorCode::RateLimited
        }
        None if ["auth", "permission", "unauthorized", "invalid_api_key"]
            .iter()
            .any(|w| words.contains(w)) =>
        {
            ErrorCode::Auth
        }
        None => ErrorCode::Provider,
    };
    let message = parsed
        .message
        .clone()
        .or_else(|| value.as_str().map(str::to_string))
        .unwrap_or_else(|| "unspecified error".to_string());
    let mut err = Error::new(
        code,
        format!("error event in the stream from {url}: {message}"),
    );
    err.provider_code = parsed.code;
    err.http_status = status;
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(v: Value) -> (ErrorCode, Option<u16>) {
        let e = stream_error(&v, "u");
        (e.code, e.http_status)
    }

    #[test]
    fn error_frames_are_classified_like_their_status() {
        use serde_json::json;
        assert_eq!(
            code_of(json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})),
            (ErrorCode::RateLimited, Some(429))
        );
        assert_eq!(
            code_of(json!({"error": {"code": "rate_limit_exceeded", "message": "slow"}})),
            (ErrorCode::RateLimited, None)
        );
        assert_eq!(
            code_of(json!({"error": {"type": "authentication_error"}})),
            (ErrorCode::Auth, None)
        );
        assert_eq!(
            code_of(json!({"error": {"status": 401}})),
            (ErrorCode::Auth, Some(401))
        );
        assert_eq!(
            code_of(json!({"error": {"status": 65937}})),
            (ErrorCode::Provider, None),
            "no wrap-around"
        );
        assert_eq!(
            code_of(json!({"error": {"code": "overloaded"}})),
            (ErrorCode::Provider, None)
        );
    }
}
