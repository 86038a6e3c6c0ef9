//! `aigw._aigw`: the Python binding, a thin translator over `aigw-core`. One file per concept,
//! as in core: [`client`], [`stream`], [`registry`], [`errors`] (docs/contract.md §8 classes) and
//! [`conversion`] (JSON values ↔ Python objects). `aigw/__init__.py` re-exports the public names.

mod asyncio;
mod client;
mod conversion;
mod errors;
mod registry;
mod stream;

use std::sync::{Arc, Mutex, PoisonError};

use aigw_core::CancelToken;
use pyo3::prelude::*;

/// Runs a blocking core call with the GIL released (other Python threads keep running while it
/// waits on the network), turning a panic into `INTERNAL` and any error into its exception.
/// Inputs must be owned or `Sync` Rust data: nothing Python-side is touched while detached.
pub(crate) fn blocking<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> aigw_core::Result<T> + Send,
    T: Send,
{
    py.detach(|| aigw_core::error::catch_panic(f))
        .map_err(|e| errors::to_py_err(py, e))
}

/// Lets a blocked call notice Ctrl-C. A call waiting on the network runs without the GIL and
/// cannot see signals; its cancel token asks Python every 100 ms of silence (`check_signals`,
/// which runs the handlers; off the main thread it does nothing). When a handler raises
/// (`KeyboardInterrupt`), the call is cancelled, its connection dropped, and the handler's
/// exception is what the caller gets.
#[derive(Clone, Default)]
pub(crate) struct SignalWatch {
    raised: Arc<Mutex<Option<PyErr>>>,
}

impl SignalWatch {
    /// A cancel token that polls for signals and keeps what their handlers raised.
    pub(crate) fn token(&self) -> CancelToken {
        let raised = self.raised.clone();
        CancelToken::with_poll(move || {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(e) => {
                    *raised.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    true
                }
            })
        })
    }

    /// What a signal handler raised during the call, once.
    pub(crate) fn take(&self) -> Option<PyErr> {
        self.raised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// [`blocking`] for a call that takes a cancel token: Ctrl-C ends it promptly (see
/// [`SignalWatch`]) and raises the handler's exception, whatever the call returned.
pub(crate) fn interruptible<T, F>(py: Python<'_>, watch: &SignalWatch, f: F) -> PyResult<T>
where
    F: FnOnce(CancelToken) -> aigw_core::Result<T> + Send,
    T: Send,
{
    let token = watch.token();
    let result = blocking(py, move || f(token));
    match watch.take() {
        Some(raised) => Err(raised),
        None => result,
    }
}

#[pymodule]
fn _aigw(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", aigw_core::VERSION)?;
    m.add_class::<client::Client>()?;
    m.add_class::<stream::ChatStream>()?;
    m.add_class::<asyncio::CancelHandle>()?;
    m.add_class::<asyncio::StreamHandle>()?;
    m.add_class::<asyncio::Completions>()?;
    m.add_function(wrap_pyfunction!(registry::providers, m)?)?;
    m.add_function(wrap_pyfunction!(registry::resolve_kind, m)?)?;
    Ok(())
}
