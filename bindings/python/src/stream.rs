//! `aigw.ChatStream`: an iterator of chunk dicts and a context manager. The core stream sits
//! behind a lock that is only taken with the GIL released; `cancel()` needs no lock at all, so
//! it works while another thread is blocked reading. Leaving a `with`, `close()`, or dropping
//! the object (e.g. breaking out of a `for`) drops the connection.

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use aigw_core::CancelHandle;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use serde_json::Value;

use crate::conversion;
use crate::{blocking, SignalWatch};

/// A streaming chat answer. `meta` holds the response metadata (status, model, request id,
/// Cloudflare log id, attempts); iterate for `chat.completion.chunk` dicts.
#[pyclass(frozen, module = "aigw", name = "ChatStream")]
pub struct ChatStream {
    /// `None` once finished, failed or closed: the connection is gone by then.
    stream: Mutex<Option<aigw_core::ChatStream>>,
    cancel: CancelHandle,
    /// Holds what a signal handler raised while a read waited (see `SignalWatch`).
    watch: SignalWatch,
    /// The metadata at open, replaced by the final one (with `usage` and `cost`) at the end.
    meta: Mutex<Value>,
}

impl ChatStream {
    pub(crate) fn new(stream: aigw_core::ChatStream, watch: SignalWatch) -> ChatStream {
        ChatStream {
            watch,
            cancel: stream.cancel_handle(),
            meta: Mutex::new(stream.meta().clone()),
            stream: Mutex::new(Some(stream)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<aigw_core::ChatStream>> {
        self.stream.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl ChatStream {
    /// Response metadata, available as soon as the stream is open; `usage` and `cost` are
    /// added once the stream ended.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conversion::shared_to_py(py, &self.meta)
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Ctrl-C between chunks; during a wait, the stream's token notices it (`SignalWatch`).
        py.check_signals()?;
        let chunk = blocking(py, || {
            let mut guard = self.lock();
            let Some(stream) = guard.as_mut() else {
                return Ok(None);
            };
            let next = stream.next_chunk();
            if matches!(next, Ok(None)) {
                *self.meta.lock().unwrap_or_else(PoisonError::into_inner) = stream.meta().clone();
            }
            if !matches!(next, Ok(Some(_))) {
                *guard = None;
            }
            next
        });
        if let Some(raised) = self.watch.take() {
            return Err(raised);
        }
        chunk?
            .map(|chunk| conversion::to_py(py, &chunk.value))
            .transpose()
    }

    /// Closes the stream and drops the connection; iteration then stops. Safe to call twice.
    /// If another thread is reading right now, that read is cancelled instead.
    fn close(&self) {
        let taken = match self.stream.try_lock() {
            Ok(mut guard) => guard.take(),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().take(),
            Err(TryLockError::WouldBlock) => {
                self.cancel.cancel();
                None
            }
        };
        drop(taken);
    }

    /// Cancels the stream from any thread: the next read raises `CancelledError`.
    fn cancel(&self) {
        self.cancel.cancel();
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Closes the stream; exceptions propagate.
    #[pyo3(signature = (exc_type=None, exc_value=None, traceback=None))]
    fn __exit__(
        &self,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) {
        let _ = (exc_type, exc_value, traceback);
        self.close();
    }

    fn __repr__(&self) -> String {
        let state = match self.stream.try_lock() {
            Ok(guard) if guard.is_none() => "closed",
            _ => "open",
        };
        let meta = self.meta.lock().unwrap_or_else(PoisonError::into_inner);
        let model = meta.get("model").and_then(Value::as_str).unwrap_or("");
        format!("<aigw.ChatStream model={model:?} {state}>")
    }
}
