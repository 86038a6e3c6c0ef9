//! `aigw.Client`: a frozen wrapper over `aigw_core::Client` (already `Send + Sync`, so every
//! method may run on many Python threads at once). The profile is parsed once, at construction.

use std::path::PathBuf;

use aigw_core::{Profile, RequestOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};

use crate::conversion;
use crate::errors::{invalid_argument, to_py_err};
use crate::stream::ChatStream;
use crate::{blocking, interruptible, SignalWatch};

/// An aigw client: a resolved route, credentials and one keep-alive connection pool.
///
/// `Client(**profile)` takes the profile fields of the aigw config (`kind`, `base_url`,
/// `account_id`, `gateway_name`, `model`, `api_key`, `headers`, `gateway={...}`, …).
/// Building a client does no network I/O.
#[pyclass(frozen, module = "aigw", name = "Client")]
pub struct Client {
    inner: aigw_core::Client,
}

fn convert_arg(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    conversion::to_value(obj).map_err(|e| invalid_argument(py, e.describe(name)))
}

/// The OpenAI request body: `{"messages": ..., **params}`.
fn request_body(
    py: Python<'_>,
    field: &str,
    value: &Bound<'_, PyAny>,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<Value> {
    let mut body = match params {
        Some(params) => {
            conversion::dict_to_map(params).map_err(|e| invalid_argument(py, e.describe("")))?
        }
        None => Map::new(),
    };
    body.insert(field.to_string(), convert_arg(py, field, value)?);
    Ok(Value::Object(body))
}

/// Per-request options (docs/contract.md §6); the common no-options call parses nothing.
fn request_options(
    py: Python<'_>,
    gateway: Option<&Bound<'_, PyAny>>,
    extra_headers: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
) -> PyResult<RequestOptions> {
    if gateway.is_none() && extra_headers.is_none() && timeout.is_none() {
        return Ok(RequestOptions::default());
    }
    let mut options = Map::new();
    if let Some(gateway) = gateway {
        options.insert("gateway".into(), convert_arg(py, "gateway", gateway)?);
    }
    if let Some(headers) = extra_headers {
        options.insert("headers".into(), convert_arg(py, "extra_headers", headers)?);
    }
    if let Some(seconds) = timeout {
        if !seconds.is_finite() || seconds <= 0.0 {
            return Err(invalid_argument(
                py,
                format!("timeout must be a positive number of seconds, got {seconds}"),
            ));
        }
        let ms = (seconds * 1000.0).ceil().min(u64::MAX as f64) as u64;
        options.insert("timeout_ms".into(), Value::from(ms.max(1)));
    }
    RequestOptions::from_value(&Value::Object(options)).map_err(|e| to_py_err(py, e))
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (**profile))]
    fn new(py: Python<'_>, profile: Option<&Bound<'_, PyDict>>) -> PyResult<Client> {
        let fields = match profile {
            Some(profile) => conversion::dict_to_map(profile)
                .map_err(|e| invalid_argument(py, e.describe("provider")))?,
            None => Map::new(),
        };
        let profile = Profile::from_value(&Value::Object(fields), "provider")
            .map_err(|e| to_py_err(py, e))?;
        let inner = aigw_core::Client::new(profile).map_err(|e| to_py_err(py, e))?;
        Ok(Client { inner })
    }

    /// Builds a client from a TOML or JSON config file; `profile` picks `[providers.<id>]`
    /// (default: `active_provider`, else the only profile).
    #[staticmethod]
    #[pyo3(signature = (path, profile=None))]
    fn from_config(py: Python<'_>, path: PathBuf, profile: Option<String>) -> PyResult<Client> {
        let inner = blocking(py, move || {
            aigw_core::Client::from_config(&path, profile.as_deref())
        })?;
        Ok(Client { inner })
    }

    /// Sends a chat completion request; returns the OpenAI response with an added `aigw` key.
    #[pyo3(signature = (messages, *, gateway=None, extra_headers=None, timeout=None, **params))]
    fn chat<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
        gateway: Option<&Bound<'py, PyAny>>,
        extra_headers: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
        params: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = request_body(py, "messages", messages, params)?;
        let mut options = request_options(py, gateway, extra_headers, timeout)?;
        let client = &self.inner;
        let response = interruptible(py, &SignalWatch::default(), |cancel| {
            options.cancel = Some(cancel);
            client.chat(body, &options)
        })?;
        conversion::to_py(py, &response)
    }

    /// Creates embeddings for `input` (a string or a list); returns the OpenAI response with an
    /// added `aigw` key. The model is `model=`, else the profile's `embedding_model`.
    #[pyo3(signature = (input, *, gateway=None, extra_headers=None, timeout=None, **params))]
    fn embeddings<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
        gateway: Option<&Bound<'py, PyAny>>,
        extra_headers: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
        params: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = request_body(py, "input", input, params)?;
        let mut options = request_options(py, gateway, extra_headers, timeout)?;
        let client = &self.inner;
        let response = interruptible(py, &SignalWatch::default(), |cancel| {
            options.cancel = Some(cancel);
            client.embeddings(body, &options)
        })?;
        conversion::to_py(py, &response)
    }

    /// Opens a streaming chat; iterate it for chunk dicts, use it as a context manager.
    #[pyo3(signature = (messages, *, gateway=None, extra_headers=None, timeout=None, **params))]
    fn chat_stream<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
        gateway: Option<&Bound<'py, PyAny>>,
        extra_headers: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
        params: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<ChatStream> {
        let body = request_body(py, "messages", messages, params)?;
        let mut options = request_options(py, gateway, extra_headers, timeout)?;
        let client = &self.inner;
        // The stream keeps this watch: every later read notices Ctrl-C the same way.
        let watch = SignalWatch::default();
        let stream = interruptible(py, &watch, |cancel| {
            options.cancel = Some(cancel);
            client.chat_stream(body, &options)
        })?;
        Ok(ChatStream::new(stream, watch))
    }

    /// The provider's model catalog (cached per client).
    fn list_models<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = &self.inner;
        let models = blocking(py, || client.list_models())?;
        conversion::list_to_py(py, &models)
    }

    /// What this client will do: route, credential source (never the key), model strategy.
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conversion::to_py(py, &self.inner.describe())
    }

    /// Config, credentials, route and model-probe checks, each pass/warn/fail.
    fn doctor<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = &self.inner;
        let report = blocking(py, || Ok(client.doctor()))?;
        conversion::to_py(py, &report)
    }

    /// `AsyncClient`'s calls: start `kind` (`chat`, `embeddings`, `stream`) on aigw's pool and
    /// settle `future` through its loop's `completions`; argument errors raise here, before
    /// anything starts.
    #[pyo3(signature = (kind, completions, future, first, *, gateway=None, extra_headers=None, timeout=None, **params))]
    #[allow(clippy::too_many_arguments)]
    fn _start<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        completions: PyRef<'py, crate::asyncio::Completions>,
        future: Py<PyAny>,
        first: &Bound<'py, PyAny>,
        gateway: Option<&Bound<'py, PyAny>>,
        extra_headers: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
        params: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<crate::asyncio::CancelHandle> {
        let field = if kind == "embeddings" {
            "input"
        } else {
            "messages"
        };
        let body = request_body(py, field, first, params)?;
        let options = request_options(py, gateway, extra_headers, timeout)?;
        Ok(crate::asyncio::start(
            &self.inner,
            kind,
            &completions,
            future,
            body,
            options,
        ))
    }

    /// `AsyncClient.list_models()` / `doctor()` on aigw's pool.
    fn _start_plain(
        &self,
        kind: &str,
        completions: PyRef<'_, crate::asyncio::Completions>,
        future: Py<PyAny>,
    ) -> crate::asyncio::CancelHandle {
        crate::asyncio::start_plain(&self.inner, kind, &completions, future)
    }

    fn __repr__(&self) -> String {
        let credentials = match self.inner.credentials() {
            Ok(c) => c.source.label(),
            Err(_) => "missing".to_string(),
        };
        format!(
            "<aigw.Client kind={:?} endpoint={:?} credentials={:?}>",
            self.inner.kind().id,
            self.inner.route().request_endpoint,
            credentials
        )
    }
}
