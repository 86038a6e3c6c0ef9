//! The native half of `aigw.AsyncClient` (docs/contract.md §13, §17): each call runs on core's
//! worker pool (`aigw_core::pool`), never on the event loop or its default executor. A finished
//! call goes into its loop's [`Completions`] queue without touching Python (a worker never takes
//! the GIL), and the loop settles everything queued in one callback, woken through a socket pair
//! it watches with `loop.add_reader`. Every call returns a [`CancelHandle`]; `aigw/_async.py`
//! cancels it when the awaiting task is cancelled, which closes the request's connection within
//! 100 ms.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aigw_core::{CancelToken, ChatStream, Client, RequestOptions};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use serde_json::Value;

use crate::conversion;
use crate::errors::to_py_err;

/// Cancels one asynchronous call (or stream) from any thread.
#[pyclass(frozen, module = "aigw._aigw", name = "CancelHandle")]
pub struct CancelHandle {
    token: CancelToken,
}

#[pymethods]
impl CancelHandle {
    /// Cancels the call: its connection is closed and it ends with `CancelledError`.
    fn cancel(&self) {
        self.token.cancel();
    }
}

/// What a finished job hands to the loop.
enum Outcome {
    Value(Value),
    Stream(Box<ChatStream>),
    /// A stream's end (`None` to the Python side).
    End,
}

/// `aigw._async._settle`, which sets a future's result or exception unless it is done
/// (cancelled) already.
fn settle_fn(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    SETTLE
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("aigw._async")?.getattr("_settle")?.unbind())
        })
        .map(|f| f.bind(py))
}

/// A finished call: the future to settle and what to settle it with.
type Finished = (Py<PyAny>, aigw_core::Result<Outcome>);

/// The calls of one event loop that finished and wait to be settled on it.
struct Queue {
    finished: Mutex<Vec<Finished>>,
    /// Written (one byte) when the queue stops being empty: the loop's reader wakes up.
    wake: UnixStream,
    /// Watched by the loop (`add_reader`); emptied before the queue is.
    woken: UnixStream,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Vec<Finished>> {
        self.finished.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by a worker. No Python object is touched, so no GIL is taken: a thousand workers
    /// finishing together do not queue for it, and a worker finishing while the interpreter
    /// exits cannot be caught inside it.
    fn push(&self, future: Py<PyAny>, outcome: aigw_core::Result<Outcome>) {
        let mut finished = self.lock();
        let was_empty = finished.is_empty();
        finished.push((future, outcome));
        drop(finished);
        if was_empty {
            // A full socket buffer means a wake-up is pending already.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// One event loop's completion queue (made by `aigw._async` on the loop's first call).
#[pyclass(frozen, module = "aigw._aigw", name = "Completions")]
pub struct Completions {
    queue: Arc<Queue>,
}

#[pymethods]
impl Completions {
    #[new]
    fn new() -> PyResult<Completions> {
        let (wake, woken) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        woken.set_nonblocking(true)?;
        Ok(Completions {
            queue: Arc::new(Queue {
                finished: Mutex::new(Vec::new()),
                wake,
                woken,
            }),
        })
    }

    /// The descriptor the loop watches for readability.
    fn fileno(&self) -> i32 {
        self.queue.woken.as_raw_fd()
    }

    /// Calls finished and not settled yet.
    fn pending(&self) -> usize {
        self.queue.lock().len()
    }

    /// The loop's reader callback: settles every queued future, in the order the calls
    /// finished. The wake-up bytes are read first, so a call finishing meanwhile wakes the
    /// loop again rather than being missed.
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        // One byte per wake-up, so one read empties the socket unless it came back full.
        let mut sink = [0u8; 256];
        while matches!((&self.queue.woken).read(&mut sink), Ok(n) if n == sink.len()) {}
        let finished = std::mem::take(&mut *self.queue.lock());
        let settle = settle_fn(py)?;
        for (future, outcome) in finished {
            let (ok, value) = match outcome {
                Ok(Outcome::Value(v)) => match conversion::to_py(py, &v) {
                    Ok(obj) => (true, obj),
                    Err(e) => (false, e.value(py).clone().into_any()),
                },
                Ok(Outcome::Stream(stream)) => match Py::new(py, StreamHandle::new(*stream)) {
                    Ok(handle) => (true, handle.into_bound(py).into_any()),
                    Err(e) => (false, e.value(py).clone().into_any()),
                },
                Ok(Outcome::End) => (true, py.None().into_bound(py)),
                Err(e) => (false, to_py_err(py, e).value(py).clone().into_any()),
            };
            // One future failing to take its result must not strand the others.
            if let Err(e) = settle.call1((future, ok, value)) {
                e.write_unraisable(py, None);
            }
        }
        Ok(())
    }
}

/// Runs `job` on the pool and queues its outcome for `future` on `completions`' loop.
fn submit(
    completions: &Completions,
    future: Py<PyAny>,
    token: CancelToken,
    job: impl FnOnce(CancelToken) -> aigw_core::Result<Outcome> + Send + 'static,
) -> CancelHandle {
    let handle = CancelHandle {
        token: token.clone(),
    };
    let queue = Arc::clone(&completions.queue);
    aigw_core::pool::spawn(move || {
        let outcome = aigw_core::error::catch_panic(|| job(token));
        queue.push(future, outcome);
    });
    handle
}

/// Starts `client.chat(body, options)` (or embeddings, or a stream's opening) on the pool.
pub(crate) fn start(
    client: &Client,
    kind: &str,
    completions: &Completions,
    future: Py<PyAny>,
    body: Value,
    mut options: RequestOptions,
) -> CancelHandle {
    let token = CancelToken::new();
    options.cancel = Some(token.clone());
    let client = client.clone();
    let kind = kind.to_string();
    submit(completions, future, token, move |_| match kind.as_str() {
        "embeddings" => client.embeddings(body, &options).map(Outcome::Value),
        "stream" => client
            .chat_stream(body, &options)
            .map(|s| Outcome::Stream(Box::new(s))),
        _ => client.chat(body, &options).map(Outcome::Value),
    })
}

/// Starts a call that takes no request (`list_models`, `doctor`) on the pool. A cancelled
/// `list_models` closes its connection; `doctor` runs its probe to the end (the awaiting task
/// is released at once and the report dropped).
pub(crate) fn start_plain(
    client: &Client,
    kind: &str,
    completions: &Completions,
    future: Py<PyAny>,
) -> CancelHandle {
    let client = client.clone();
    let kind = kind.to_string();
    submit(completions, future, CancelToken::new(), move |token| {
        Ok(Outcome::Value(match kind.as_str() {
            "doctor" => client.doctor(),
            _ => {
                let options = RequestOptions {
                    cancel: Some(token),
                    ..RequestOptions::default()
                };
                Value::Array(client.list_models_with(&options)?)
            }
        }))
    })
}

/// At most this many chunks go to the loop in one batch.
const BATCH_CHUNKS: usize = 256;

/// An open stream of `AsyncClient.chat_stream`: reads run on the pool, one at a time.
#[pyclass(frozen, module = "aigw._aigw", name = "StreamHandle")]
pub struct StreamHandle {
    reader: Arc<Mutex<Reader>>,
    cancel: CancelToken,
    meta: Arc<Mutex<Value>>,
}

/// The stream, while open, and the error that ended it after a batch was handed over.
struct Reader {
    stream: Option<ChatStream>,
    failed: Option<aigw_core::Error>,
}

impl StreamHandle {
    fn new(stream: ChatStream) -> StreamHandle {
        StreamHandle {
            cancel: stream.cancel_handle(),
            meta: Arc::new(Mutex::new(stream.meta().clone())),
            reader: Arc::new(Mutex::new(Reader {
                stream: Some(stream),
                failed: None,
            })),
        }
    }
}

/// Reads one chunk (from the network if need be) and every chunk already received after it;
/// the end or an error met after the first chunk is kept for the next read.
fn read_batch(reader: &Mutex<Reader>, meta: &Mutex<Value>) -> aigw_core::Result<Outcome> {
    let mut reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = reader.failed.take() {
        return Err(e);
    }
    let Some(open) = reader.stream.as_mut() else {
        return Ok(Outcome::End);
    };
    let mut batch = Vec::new();
    let mut next = open.next_chunk();
    loop {
        match next {
            Ok(Some(chunk)) => batch.push(chunk.value),
            Ok(None) => {
                *meta.lock().unwrap_or_else(PoisonError::into_inner) = open.meta().clone();
                reader.stream = None;
                break;
            }
            Err(e) => {
                reader.stream = None;
                if batch.is_empty() {
                    return Err(e);
                }
                reader.failed = Some(e);
                break;
            }
        }
        if batch.len() >= BATCH_CHUNKS {
            break;
        }
        match open.next_chunk_ready() {
            Some(ready) => next = ready,
            None => break,
        }
    }
    Ok(if batch.is_empty() {
        Outcome::End
    } else {
        Outcome::Value(Value::Array(batch))
    })
}

#[pymethods]
impl StreamHandle {
    /// The response metadata; `usage` and `cost` are added once the stream ended.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conversion::shared_to_py(py, &self.meta)
    }

    /// Reads the next chunks into `future`: a list of one or more dicts (every chunk that
    /// arrived together), or `None` at the end.
    fn next(&self, completions: &Completions, future: Py<PyAny>) -> CancelHandle {
        let (reader, meta) = (self.reader.clone(), self.meta.clone());
        submit(completions, future, self.cancel.clone(), move |_| {
            read_batch(&reader, &meta)
        })
    }

    /// Cancels the stream from any thread: the pending or next read raises `CancelledError`.
    fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Closes the stream: an unfinished connection is dropped (a read in progress is
    /// cancelled instead).
    fn close(&self) {
        match self.reader.try_lock() {
            Ok(mut reader) => drop(reader.stream.take()),
            Err(std::sync::TryLockError::Poisoned(p)) => drop(p.into_inner().stream.take()),
            Err(std::sync::TryLockError::WouldBlock) => self.cancel.cancel(),
        }
    }
}
