//! aigw errors as Python exceptions (docs/contract.md §8). The classes live in `aigw/_errors.py` so users
//! can construct them (e.g. in their own tests); this file maps every core code to its class in
//! one exhaustive `match` and fills the attributes.

use aigw_core::{Error, ErrorCode};
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use pyo3::{intern, PyErr};

use crate::conversion;

/// The Python class name of each code. `OK` and `DONE` are not errors: seeing one here is a
/// bug, reported as `InternalError`.
pub fn class_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidArgument => "InvalidArgumentError",
        ErrorCode::Config => "ConfigError",
        ErrorCode::MissingCredentials => "MissingCredentialsError",
        ErrorCode::Auth => "AuthError",
        ErrorCode::RateLimited => "RateLimitError",
        ErrorCode::Timeout => "TimeoutError",
        ErrorCode::Connection => "ConnectionError",
        ErrorCode::Provider => "ProviderError",
        ErrorCode::ModelSelection => "ModelSelectionError",
        ErrorCode::Protocol => "ProtocolError",
        ErrorCode::Unsupported => "UnsupportedError",
        ErrorCode::Cancelled => "CancelledError",
        ErrorCode::Internal => "InternalError",
    }
}

/// `aigw._errors`, imported once (it is already loaded by `aigw/__init__.py`).
fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("aigw._errors").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// The exception for a core error, attributes filled; never fails (a broken install becomes a
/// `RuntimeError` carrying the original message).
pub fn to_py_err(py: Python<'_>, error: Error) -> PyErr {
    build(py, &error).unwrap_or_else(|cause| {
        // A signal handler may run while the exception is built: its KeyboardInterrupt (or
        // SystemExit) wins, with its type, rather than turning into a RuntimeError.
        if !cause.is_instance_of::<PyException>(py) {
            return cause;
        }
        PyRuntimeError::new_err(format!(
            "{} (and the aigw exception could not be built: {cause})",
            error
        ))
    })
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let class = errors_module(py)?.getattr(class_name(error.code))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "http_status"), error.http_status)?;
    kwargs.set_item(intern!(py, "provider_code"), error.provider_code.as_deref())?;
    kwargs.set_item(intern!(py, "retry_after_ms"), error.retry_after_ms)?;
    kwargs.set_item(intern!(py, "request_id"), error.request_id.as_deref())?;
    let attempts = PyList::empty(py);
    for attempt in &error.attempts {
        attempts.append(conversion::to_py(py, &attempt.to_json())?)?;
    }
    kwargs.set_item(intern!(py, "attempts"), attempts)?;
    let exception = class.call((error.message.as_str(),), Some(&kwargs))?;
    Ok(PyErr::from_value(exception))
}

/// An `InvalidArgumentError` with this message.
pub fn invalid_argument(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, Error::invalid_argument(message))
}
