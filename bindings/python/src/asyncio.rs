//! The native half of `aigw.AsyncClient` (docs/contract.md §13, §17): each call runs on core's
//! worker pool (`aigw_core::pool`), never on the event loop or its default executor, and its
//! result reaches the loop through `loop.call_soon_threadsafe`. Every call returns a
//! [`CancelHandle`]; `aigw/_async.py` cancels it when the awaiting task is cancelled, which
//! closes the request's connection within 100 ms.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// Set by `aigw._async` at interpreter exit: from then on no worker touches Python (a thread
/// attaching while the interpreter finalizes is killed mid-call, which aborts the process).
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Workers inside `Python::attach` right now.
static ATTACHED: AtomicUsize = AtomicUsize::new(0);

/// Called at interpreter exit (`atexit`): stops workers from touching Python and waits (at most
/// two seconds, without the GIL) for those already handing a result over.
#[pyfunction]
pub(crate) fn _shutdown(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while ATTACHED.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
}

/// Runs `job` on the pool and settles `future` (of `event_loop`) with its outcome.
fn submit(
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    token: CancelToken,
    job: impl FnOnce(CancelToken) -> aigw_core::Result<Outcome> + Send + 'static,
) -> CancelHandle {
    let handle = CancelHandle {
        token: token.clone(),
    };
    aigw_core::pool::spawn(move || {
        let outcome = aigw_core::error::catch_panic(|| job(token));
        ATTACHED.fetch_add(1, Ordering::SeqCst);
        if SHUTTING_DOWN.load(Ordering::SeqCst) {
            // Nobody can await the result any more; dropping it needs no GIL for Rust values,
            // and Python objects are not created.
            ATTACHED.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        Python::attach(|py| {
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
            // A closed loop cannot take the result; nobody awaits it any more.
            let _ = settle_fn(py).and_then(|settle| {
                event_loop.call_method1(py, "call_soon_threadsafe", (settle, future, ok, value))
            });
        });
        ATTACHED.fetch_sub(1, Ordering::SeqCst);
    });
    handle
}

/// Starts `client.chat(body, options)` (or embeddings, or a stream's opening) on the pool.
pub(crate) fn start(
    client: &Client,
    kind: &str,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    body: Value,
    mut options: RequestOptions,
) -> CancelHandle {
    let token = CancelToken::new();
    options.cancel = Some(token.clone());
    let client = client.clone();
    let kind = kind.to_string();
    submit(event_loop, future, token, move |_| match kind.as_str() {
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
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
) -> CancelHandle {
    let client = client.clone();
    let kind = kind.to_string();
    submit(event_loop, future, CancelToken::new(), move |token| {
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
        let meta = self
            .meta
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        conversion::to_py(py, &meta)
    }

    /// Reads the next chunks into `future`: a list of one or more dicts (every chunk that
    /// arrived together), or `None` at the end.
    fn next(&self, event_loop: Py<PyAny>, future: Py<PyAny>) -> CancelHandle {
        let (reader, meta) = (self.reader.clone(), self.meta.clone());
        submit(event_loop, future, self.cancel.clone(), move |_| {
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
