//! One call's inputs, checked once before any I/O: the per-request options (docs/contract.md §6)
//! and the chat body (an object, `stream` as the call says, `model` a string when given).

use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::fields::Fields;
use crate::gateway::GatewayOptions;
use crate::secret::Headers;

/// Per-request options (docs/contract.md §6): gateway options merged over the client's, extra headers,
/// and a timeout replacing `request_timeout_ms` for this call.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Gateway options; set fields win over the client's.
    pub gateway: Option<GatewayOptions>,
    /// Extra headers; they win over the client's of the same name.
    pub headers: Headers,
    /// Replaces `request_timeout_ms` for this call.
    pub timeout_ms: Option<u64>,
    /// Cancels this call from another thread (not part of the JSON form).
    pub cancel: Option<CancelToken>,
}

impl RequestOptions {
    /// Parses `{ "gateway": {…}, "headers": {…}, "timeout_ms": n }`; camelCase keys
    /// (`timeoutMs`, `gateway.cacheTtl`) are accepted too, in every language.
    pub fn from_value(value: &Value) -> Result<RequestOptions> {
        let mut value = value.clone();
        crate::fields::snake_case_keys(&mut value, "options")?;
        let mut f = Fields::new(&value, "options")?;
        let gateway = match f.take("gateway") {
            Some(v) => Some(GatewayOptions::from_value(v, "options.gateway")?),
            None => None,
        };
        let headers = Headers::from_pairs(f.string_map("headers")?, "options.headers")?;
        let timeout_ms = f.u64("timeout_ms")?;
        f.finish()?;
        Ok(RequestOptions {
            gateway,
            headers,
            timeout_ms: timeout_ms.map(|t| t.clamp(1, 3_600_000)),
            cancel: None,
        })
    }

    /// Parses options given as JSON text; empty text means none.
    pub fn from_json_str(text: &str) -> Result<RequestOptions> {
        if text.trim().is_empty() {
            return Ok(RequestOptions::default());
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid_argument(format!("options are not valid JSON: {e}")))?;
        RequestOptions::from_value(&value)
    }
}

/// A chat request body, checked: the caller's JSON object with `stream` set for streams, and
/// the model the request names (it wins over the profile's).
pub struct ChatBody {
    /// The body as the caller sent it, `stream: true` added for streams.
    pub body: Map<String, Value>,
    /// The request's own `model`, when it names one.
    pub model: Option<String>,
}

impl ChatBody {
    /// Checks a chat request for [`crate::Client::chat`] (`stream` false) or
    /// [`crate::Client::chat_stream`] (`stream` true).
    pub fn parse(request: Value, stream: bool) -> Result<ChatBody> {
        let Value::Object(mut body) = request else {
            return Err(Error::invalid_argument(
                "the chat request must be a JSON object",
            ));
        };
        let wants_stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        if wants_stream && !stream {
            return Err(Error::invalid_argument(
                "the request sets stream: true; call chat_stream instead of chat",
            ));
        }
        if stream {
            body.insert("stream".to_string(), Value::Bool(true));
        }
        let model = requested_model(&body)?;
        Ok(ChatBody { body, model })
    }
}

/// The model a request body names: its `model` string, `None` when absent, null or blank.
fn requested_model(body: &Map<String, Value>) -> Result<Option<String>> {
    match body.get("model") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(m)) if !m.trim().is_empty() => Ok(Some(m.clone())),
        Some(Value::String(_)) => Ok(None),
        Some(_) => Err(Error::invalid_argument(
            "the request's `model` must be a string",
        )),
    }
}

/// An embeddings request body, checked: an object with an `input`, and the model it names.
pub struct EmbeddingsBody {
    /// The body as the caller sent it.
    pub body: Map<String, Value>,
    /// The request's own `model`, when it names one.
    pub model: Option<String>,
}

impl EmbeddingsBody {
    /// Checks a request for [`crate::Client::embeddings`].
    pub fn parse(request: Value) -> Result<EmbeddingsBody> {
        let Value::Object(body) = request else {
            return Err(Error::invalid_argument(
                "the embeddings request must be a JSON object",
            ));
        };
        match body.get("input") {
            Some(Value::String(_)) => {}
            Some(Value::Array(items)) if !items.is_empty() => {}
            Some(Value::Array(_)) => {
                return Err(Error::invalid_argument(
                    "the embeddings request's `input` is an empty list",
                ))
            }
            Some(_) => {
                return Err(Error::invalid_argument(
                    "the embeddings request's `input` must be a string or a list",
                ))
            }
            None => {
                return Err(Error::invalid_argument(
                    "the embeddings request needs an `input` (a string or a list of strings)",
                ))
            }
        }
        let model = requested_model(&body)?;
        Ok(EmbeddingsBody { body, model })
    }
}
