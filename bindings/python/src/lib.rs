//! `aigw._aigw`: the Python binding, a thin translator over `aigw-core`. One file per concept,
//! as in core: [`client`], [`stream`], [`registry`], [`errors`] (SPEC §8 classes) and
//! [`conversion`] (JSON values ↔ Python objects). `aigw/__init__.py` re-exports the public names.

mod client;
mod conversion;
mod errors;
mod registry;
mod stream;

use std::panic::{catch_unwind, AssertUnwindSafe};

use aigw_core::{Error, ErrorCode};
use pyo3::prelude::*;

/// Runs a blocking core call with the GIL released (other Python threads keep running while it
/// waits on the network), turning a panic into `INTERNAL` and any error into its exception.
/// Inputs must be owned or `Sync` Rust data: nothing Python-side is touched while detached.
pub(crate) fn blocking<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> aigw_core::Result<T> + Send,
    T: Send,
{
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::new(
                ErrorCode::Internal,
                format!("aigw panicked (a bug; please report it): {what}"),
            ))
        })
    })
    .map_err(|e| errors::to_py_err(py, e))
}

#[pymodule]
fn _aigw(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", aigw_core::VERSION)?;
    m.add_class::<client::Client>()?;
    m.add_class::<stream::ChatStream>()?;
    m.add_function(wrap_pyfunction!(registry::providers, m)?)?;
    m.add_function(wrap_pyfunction!(registry::resolve_kind, m)?)?;
    Ok(())
}
