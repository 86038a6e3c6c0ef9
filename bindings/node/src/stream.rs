//! A streaming chat for `for await`: the stream opens and reads on the pool, chunks queue up
//! (bounded), and JavaScript takes everything queued in one hop — one JSON array text per
//! hop instead of one promise per chunk. `close()` (what `break` calls) and `cancel()` drop the
//! connection as soon as no read is in progress, else right after the read in progress returns.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aigw_core::{CancelHandle, ChatStream, Client, Error, ErrorCode, RequestOptions};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

use crate::promise::{self, Pending};

/// Read-ahead stops when this many chunks or bytes wait for JavaScript.
const HIGH_WATER_CHUNKS: usize = 256;
const HIGH_WATER_BYTES: usize = 1 << 20;

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
    cancel: Option<CancelHandle>,
    meta: Option<String>,
    /// Chunk texts not yet taken by JavaScript, and their total length.
    queue: Vec<String>,
    queued_bytes: usize,
    end: Option<End>,
    /// A pool job is opening or reading the stream.
    reading: bool,
    /// `wait()`'s promise, settled by the next chunk or the end.
    waiter: Option<Pending>,
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

/// What JavaScript gets from `take()`/`wait()`: a JSON array text of chunks, `""` at the end,
/// or the error that ended the stream (once).
enum Batch {
    Chunks(String),
    End,
    Error(Error),
}

impl State {
    /// Everything queued, or how the stream ended, or `None` when JavaScript has to wait.
    fn take_batch(&mut self) -> Option<Batch> {
        if !self.queue.is_empty() {
            let mut text = String::with_capacity(self.queued_bytes + self.queue.len() + 1);
            text.push('[');
            for (i, chunk) in self.queue.drain(..).enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&chunk);
            }
            text.push(']');
            self.queued_bytes = 0;
            return Some(Batch::Chunks(text));
        }
        match self.end.take()? {
            End::Finished => {
                self.end = Some(End::Finished);
                Some(Batch::End)
            }
            End::Failed(e) => {
                self.end = Some(End::Finished);
                Some(Batch::Error(e))
            }
        }
    }

    fn settle_waiter(&mut self) {
        if self.waiter.is_none() {
            return;
        }
        if let Some(batch) = self.take_batch() {
            if let Some(waiter) = self.waiter.take() {
                waiter.settle(batch.into_result());
            }
        }
    }

    fn settle_ready(&mut self, result: Result<String, Error>) {
        for pending in self.ready.drain(..) {
            pending.settle(result.clone());
        }
    }

    fn full(&self) -> bool {
        self.queue.len() >= HIGH_WATER_CHUNKS || self.queued_bytes >= HIGH_WATER_BYTES
    }

    /// Ends the stream: the queue is dropped and so is the connection, unless a read holds it
    /// (then the reader drops it when the read returns).
    fn finish(&mut self, end: End) -> Option<ChatStream> {
        self.queue.clear();
        self.queued_bytes = 0;
        self.end = Some(end);
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
        self.stream.take()
    }
}

impl Batch {
    fn into_result(self) -> Result<String, Error> {
        match self {
            Batch::Chunks(text) => Ok(text),
            Batch::End => Ok(String::new()),
            Batch::Error(e) => Err(e),
        }
    }
}

fn cancelled(message: &str) -> Error {
    Error::new(ErrorCode::Cancelled, message)
}

/// Opens the stream, then reads ahead until the queue is full or the stream ends.
fn open_and_read(
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
            state.cancel = Some(stream.cancel_handle());
            state.stream = Some(stream);
            state.settle_ready(Ok(meta));
            drop(state);
            read_ahead(&shared);
        }
        Ok(stream) => {
            // Closed or cancelled while opening: report that, drop the connection now.
            state.reading = false;
            let why = match &state.end {
                Some(End::Failed(e)) => e.clone(),
                _ => cancelled("the stream was closed before it opened"),
            };
            state.settle_ready(Err(why));
            state.settle_waiter();
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
            state.settle_waiter();
        }
    }
}

/// Reads chunks while JavaScript is behind by less than the high-water mark.
fn read_ahead(shared: &Arc<Shared>) {
    loop {
        let Some(mut stream) = shared.lock().stream.take() else {
            shared.lock().reading = false;
            return;
        };
        let next = promise::guard(|| stream.next_chunk());
        let mut state = shared.lock();
        if state.end.is_some() {
            // Closed or cancelled during the read: the connection goes with `stream`.
            state.reading = false;
            state.settle_waiter();
            return;
        }
        match next {
            Ok(Some(chunk)) => {
                state.queued_bytes += chunk.text.len();
                state.queue.push(chunk.text);
                state.stream = Some(stream);
            }
            Ok(None) => state.end = Some(End::Finished),
            Err(e) => state.end = Some(End::Failed(e)),
        }
        state.settle_waiter();
        if state.end.is_some() || state.full() {
            state.reading = false;
            return;
        }
    }
}

/// Starts a reader job when none runs and there is something to read and room for it.
fn ensure_reading(shared: &Arc<Shared>, state: &mut State) {
    if !state.reading && state.stream.is_some() && state.end.is_none() && !state.full() {
        state.reading = true;
        let shared = Arc::clone(shared);
        crate::pool::spawn(move || read_ahead(&shared));
    }
}

/// The native half of `ChatStream`: `index.js` drives it with `take()` and `wait()`.
#[napi]
pub struct NativeStream {
    shared: Arc<Shared>,
}

impl NativeStream {
    pub(crate) fn open(client: Client, request_json: String, options: RequestOptions) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                reading: true,
                ..State::default()
            }),
        });
        let opener = Arc::clone(&shared);
        crate::pool::spawn(move || open_and_read(opener, client, request_json, options));
        NativeStream { shared }
    }

    fn end_with(&self, end: End) {
        let mut state = self.shared.lock();
        if state.closed {
            return;
        }
        state.closed = matches!(end, End::Finished);
        let stream = state.finish(end);
        state.settle_waiter();
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

    /// Everything queued as a JSON array text, `""` at the end, `null` when nothing is ready
    /// yet (then call `wait()`). Throws the error that ended the stream, once.
    #[napi]
    pub fn take(&self, env: Env) -> napi::Result<Option<String>> {
        let mut state = self.shared.lock();
        let batch = state.take_batch();
        ensure_reading(&self.shared, &mut state);
        drop(state);
        match batch {
            None => Ok(None),
            Some(batch) => promise::sync(&env, || batch.into_result()).map(Some),
        }
    }

    /// Like `take()`, as a promise settled when something is ready.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        let (pending, promise) = Pending::new(env)?;
        let mut state = self.shared.lock();
        if let Some(batch) = state.take_batch() {
            pending.settle(batch.into_result());
        } else if state.waiter.is_some() {
            pending.settle(Err(Error::invalid_argument(
                "ChatStream.next() was called while another next() was pending",
            )));
        } else {
            state.waiter = Some(pending);
        }
        ensure_reading(&self.shared, &mut state);
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

impl Drop for NativeStream {
    fn drop(&mut self) {
        self.close();
    }
}
