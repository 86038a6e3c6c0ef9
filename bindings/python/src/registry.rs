//! The provider registry as data: `aigw.providers()` and `aigw.resolve_kind()`.

use pyo3::prelude::*;

use crate::conversion;
use crate::errors::to_py_err;

/// Every built-in provider kind (docs/contract.md §2), as dicts.
#[pyfunction]
pub fn providers(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    conversion::to_py(py, &aigw_core::providers_json())
}

/// The kind an id or alias names (trimmed, case-insensitive); `ConfigError` with suggestions
/// when unknown.
#[pyfunction]
pub fn resolve_kind<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let kind = aigw_core::resolve_kind(name).map_err(|e| to_py_err(py, e))?;
    conversion::to_py(py, &kind.to_json())
}
