//! A streaming chat for `for await`: the stream opens on the pool as soon as it is created, but
//! reads only on demand: a `wait()` starts one pool job, which reads until one chunk is decoded
//! and hands over, as one batch, that chunk and every other chunk the same reads already brought
//! (no further read: `ChatStream::next_chunk_ready`). Once a batch went to a waiting `wait()`,
//! the job reads one batch ahead (the consumer is active: it will ask), and stops there until
//! the next `wait()` takes it. A stream never iterated reads nothing. A read may block for as long as the upstream stalls, so reading ahead would let streams
//! nobody consumes (never iterated, abandoned after a `next()`) hold pool threads and starve
//! every other call. `close()` (what `break` calls), `cancel()` (what an `AbortSignal` calls)
//! and garbage collection drop the connection as soon as no read is in progress, else right
//! after the read in progress returns; the stream's cancel token is armed from the start, so
//! this also interrupts an open still waiting for the headers.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aigw_core::cancel::cancelled_error;
use aigw_core::{CancelToken, ChatStream, Client, Error, ErrorCode, RequestOptions};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

use crate::promise::{self, Pending};

/// How the stream ended, as JavaScript will see it.
enum End {
    /// `[DONE]`, closed by the caller, or an error already delivered.
    Finished,
    /// Delivered once, then the stream is `Finished`.
    Failed(Error),
}

#[derive(Default)]
struct State {
    /// The open stream, present while no pool job is reading it.
    stream: Option<ChatStream>,
    /// The stream's token, given to core when opening: cancelling it interrupts the open, the
    /// read in progress, or neither if the stream has ended.
    cancel: CancelToken,
    meta: Option<String>,
    end: Option<End>,
    /// A pool job is opening or reading the stream.
    reading: bool,
    /// `wait()`'s promise, settled by the next chunk or the end.
    waiter: Option<Pending>,
    /// A batch read ahead of the next `wait()` (only after a batch went to a waiting one).
    ahead: Option<String>,
    /// `ready()`'s promises, settled once the headers arrived (or the open failed).
    ready: Vec<Pending>,
    opened: bool,
    /// Why opening failed, for `ready()` calls after the error was delivered.
    open_error: Option<Error>,
    /// `close()` was called: reads end cleanly, whatever happens next.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// How the stream ended as `wait()` reports it: `""`, or the error that ended it (once).
    fn take_end(&mut self) -> Option<Result<String, Error>> {
        let result = match self.end.take()? {
            End::Finished => Ok(String::new()),
            End::Failed(e) => Err(e),
        };
        self.end = Some(End::Finished);
        Some(result)
    }

    fn settle_waiter_with_end(&mut self) {
        if self.waiter.is_none() {
            return;
        }
        if let Some(result) = self.take_end() {
            if let Some(waiter) = self.waiter.take() {
                waiter.settle(result);
            }
        }
    }

    fn settle_ready(&mut self, result: Result<String, Error>) {
        for pending in self.ready.drain(..) {
            pending.settle(result.clone());
        }
    }

    /// Ends the stream: the connection is dropped, unless a read holds it (then the reader
    /// drops it when the read returns).
    fn finish(&mut self, end: End) -> Option<ChatStream> {
        self.end = Some(end);
        self.ahead = None;
        self.cancel.cancel();
        self.stream.take()
    }
}

fn cancelled(message: &str) -> Error {
    Error::new(ErrorCode::Cancelled, message)
}

/// Opens the stream, then reads one chunk if JavaScript is already waiting for it.
fn open_then_read(
    shared: Arc<Shared>,
    client: Client,
    request_json: String,
    options: RequestOptions,
) {
    let opened = promise::guard(|| {
        let request = serde_json::from_str(&request_json).map_err(|e| {
            Error::invalid_argument(format!("the chat request is not valid JSON: {e}"))
        })?;
        client.chat_stream(request, &options)
    });
    let mut state = shared.lock();
    state.opened = true;
    match opened {
        Ok(stream) if state.end.is_none() => {
            let meta = stream.meta().to_string();
            state.meta = Some(meta.clone());
            state.stream = Some(stream);
            state.settle_ready(Ok(meta));
            drop(state);
            read_next(&shared);
        }
        Ok(stream) => {
            // Closed or cancelled while opening: report that, drop the connection now.
            state.reading = false;
            let why = match &state.end {
                Some(End::Failed(e)) => e.clone(),
                _ => cancelled("the stream was closed before it opened"),
            };
            state.settle_ready(Err(why));
            state.settle_waiter_with_end();
            drop(state);
            drop(stream);
        }
        Err(e) => {
            state.reading = false;
            state.open_error = Some(e.clone());
            state.settle_ready(Err(e.clone()));
            if state.end.is_none() {
                state.end = Some(End::Failed(e));
            }
            state.settle_waiter_with_end();
        }
    }
}

/// At most this many chunks (and about this many bytes) go to JavaScript in one batch.
const BATCH_CHUNKS: usize = 256;
const BATCH_BYTES: usize = 256 * 1024;

/// What follows a batch of chunks.
enum After {
    /// The stream goes on.
    More,
    /// The stream ended properly right after the batch.
    Ended,
    /// The stream failed right after the batch.
    Failed(Error),
}

/// A batch as JavaScript parses it: the chunks' JSON texts as one JSON array.
struct Batch {
    text: String,
    chunks: usize,
}

impl Batch {
    fn push(&mut self, chunk: &str) {
        self.text.push(if self.chunks == 0 { '[' } else { ',' });
        self.text.push_str(chunk);
        self.chunks += 1;
    }

    fn full(&self) -> bool {
        self.chunks >= BATCH_CHUNKS || self.text.len() >= BATCH_BYTES
    }

    fn finish(mut self) -> String {
        self.text.push(']');
        self.text
    }
}

/// Reads what `wait()`'s promise awaits: one chunk, read from the network if need be, then the
/// chunks already received. After a batch went to a waiter, reads one batch ahead and keeps it
/// for the next `wait()`. Without a waiter (and not reading ahead), gives the stream back
/// unread. The end or an error met after the first chunk of a batch is kept for the `wait()`
/// after the batch.
fn read_next(shared: &Shared) {
    read_batches(shared, false);
}

/// [`read_next`] for a consumer that just took a batch read ahead: reads the next one ahead.
fn read_ahead(shared: &Shared) {
    read_batches(shared, true);
}

fn read_batches(shared: &Shared, mut read_ahead: bool) {
    loop {
        let mut state = shared.lock();
        let wanted = state.waiter.is_some() || read_ahead;
        let stream = if wanted && state.ahead.is_none() {
            state.stream.take()
        } else {
            None
        };
        let Some(mut stream) = stream else {
            state.reading = false;
            return;
        };
        drop(state);
        let mut batch = Batch {
            text: String::new(),
            chunks: 0,
        };
        let next = promise::guard(|| {
            let Some(first) = stream.next_chunk()? else {
                return Ok(None);
            };
            batch.push(&first.text);
            while !batch.full() {
                match stream.next_chunk_ready() {
                    Some(Ok(Some(chunk))) => batch.push(&chunk.text),
                    // The end or the error waits for the next `wait()`; the chunks go now.
                    Some(Ok(None)) => return Ok(Some(After::Ended)),
                    Some(Err(e)) => return Ok(Some(After::Failed(e))),
                    None => break,
                }
            }
            Ok(Some(After::More))
        });
        let mut state = shared.lock();
        if state.end.is_some() {
            // Closed or cancelled during the read: the waiter was told; the connection goes now.
            state.reading = false;
            drop(state);
            drop(stream);
            return;
        }
        let after = match next {
            Ok(Some(after)) => after,
            Ok(None) => {
                // The final metadata carries `usage` and `cost`.
                state.meta = Some(stream.meta().to_string());
                state.end = Some(End::Finished);
                state.reading = false;
                state.settle_waiter_with_end();
                return;
            }
            Err(e) => {
                state.end = Some(End::Failed(e));
                state.reading = false;
                state.settle_waiter_with_end();
                return;
            }
        };
        let more = matches!(after, After::More);
        match after {
            After::More => state.stream = Some(stream),
            After::Ended => {
                state.meta = Some(stream.meta().to_string());
                state.end = Some(End::Finished);
            }
            After::Failed(e) => state.end = Some(End::Failed(e)),
        }
        match state.waiter.take() {
            Some(waiter) => {
                waiter.settle(Ok(batch.finish()));
                read_ahead = true;
            }
            None => state.ahead = Some(batch.finish()),
        }
        if !more {
            state.reading = false;
            return;
        }
    }
}

/// The native half of `ChatStream`: `index.js` drives it with `wait()`.
#[napi]
pub struct NativeStream {
    shared: Arc<Shared>,
}

impl NativeStream {
    /// Starts opening the stream on the pool, under `cancel`. A token cancelled already gives a
    /// stream that failed with `CANCELLED` before any I/O (an aborted `AbortSignal`).
    pub(crate) fn open(
        client: Client,
        request_json: String,
        mut options: RequestOptions,
        cancel: CancelToken,
    ) -> Self {
        if cancel.is_set() {
            let error = cancelled_error("request");
            return NativeStream::shared(State {
                cancel,
                opened: true,
                open_error: Some(error.clone()),
                end: Some(End::Failed(error)),
                ..State::default()
            });
        }
        options.cancel = Some(cancel.clone());
        let stream = NativeStream::shared(State {
            reading: true,
            cancel,
            ..State::default()
        });
        let opener = Arc::clone(&stream.shared);
        aigw_core::pool::spawn(move || open_then_read(opener, client, request_json, options));
        stream
    }

    fn shared(state: State) -> Self {
        NativeStream {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
            }),
        }
    }

    fn end_with(&self, end: End) {
        let mut state = self.shared.lock();
        if state.closed {
            return;
        }
        state.closed = matches!(end, End::Finished);
        let stream = state.finish(end);
        state.settle_waiter_with_end();
        drop(state);
        drop(stream);
    }
}

#[napi]
impl NativeStream {
    /// Response metadata (JSON text) once the headers arrived, else `null`.
    #[napi]
    pub fn meta(&self) -> Option<String> {
        self.shared.lock().meta.clone()
    }

    /// Resolves with the metadata (JSON text) once the headers arrived; rejects if opening failed.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn ready<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        let (pending, promise) = Pending::new(env)?;
        let mut state = self.shared.lock();
        if let Some(meta) = &state.meta {
            pending.settle(Ok(meta.clone()));
        } else if let Some(e) = &state.open_error {
            pending.settle(Err(e.clone()));
        } else if state.opened {
            pending.settle(Err(cancelled("the stream was closed before it opened")));
        } else {
            state.ready.push(pending);
        }
        Ok(promise)
    }

    /// The next chunks as the JSON text of an array (one or more chunks: all that arrived
    /// together), `""` at the end; rejects with the error that ended the stream, once. Only
    /// this call makes the stream read: nothing is read ahead.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        let (pending, promise) = Pending::new(env)?;
        let mut state = self.shared.lock();
        if state.waiter.is_some() {
            pending.settle(Err(Error::invalid_argument(
                "ChatStream.next() was called while another next() was pending",
            )));
        } else if let Some(batch) = state.ahead.take() {
            pending.settle(Ok(batch));
            if state.stream.is_some() && !state.reading {
                // The consumer keeps up: read the next batch ahead.
                state.reading = true;
                let shared = Arc::clone(&self.shared);
                aigw_core::pool::spawn(move || read_ahead(&shared));
            }
        } else if let Some(result) = state.take_end() {
            pending.settle(result);
        } else {
            state.waiter = Some(pending);
            if !state.reading {
                state.reading = true;
                let shared = Arc::clone(&self.shared);
                aigw_core::pool::spawn(move || read_next(&shared));
            }
        }
        Ok(promise)
    }

    /// Cancels the stream: the next read fails with `CANCELLED` and the connection is dropped.
    #[napi]
    pub fn cancel(&self) {
        self.end_with(End::Failed(cancelled(
            "the stream was cancelled by the caller",
        )));
    }

    /// Closes the stream: reads end cleanly, the connection is dropped if unfinished.
    #[napi]
    pub fn close(&self) {
        self.end_with(End::Finished);
    }
}

// Runs when garbage collection finalizes an abandoned stream: its connection goes with it.
impl Drop for NativeStream {
    fn drop(&mut self) {
        self.close();
    }
}
