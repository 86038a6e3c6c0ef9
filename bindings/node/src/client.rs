//! The client class behind `index.js`'s `Client`: construction and `describe()` run on the
//! JavaScript thread (no network), everything that talks to the gateway runs on core's worker
//! pool and returns a promise, and `chatSync` blocks on purpose. Async calls take an optional
//! [`NativeCancel`], the native half of an `AbortSignal` (`index.js` strips `signal` from the
//! options before they are encoded).

use std::path::Path;

use aigw_core::{CancelToken, Client, Error, RequestOptions};
use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::cancel::{self, NativeCancel};
use crate::profile::{options_from_json, profile_from_json};
use crate::promise;
use crate::stream::NativeStream;

/// A native aigw client; request and response bodies cross as JSON text.
#[napi]
pub struct NativeClient {
    client: Client,
}

fn parse_request(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("the request is not valid JSON: {e}")))
}

fn to_text(value: &Value) -> String {
    value.to_string()
}

/// The call's options with its cancel token; `CANCELLED` (no I/O) when it was cancelled already.
fn options_with(text: Option<&str>, token: Option<CancelToken>) -> Result<RequestOptions, Error> {
    cancel::check(token.as_ref())?;
    let mut options = options_from_json(text)?;
    if token.is_some() {
        options.cancel = token;
    }
    Ok(options)
}

#[napi]
impl NativeClient {
    /// Builds a client from a profile (JSON text; camelCase or snake_case keys). No network.
    #[napi(constructor)]
    pub fn new(env: Env, profile_json: String) -> napi::Result<Self> {
        promise::sync(&env, || {
            Ok(NativeClient {
                client: Client::new(profile_from_json(&profile_json)?)?,
            })
        })
    }

    /// Builds a client from a TOML/JSON config file and an optional profile id (docs/contract.md §3).
    #[napi(factory)]
    pub fn from_config(env: Env, path: String, profile: Option<String>) -> napi::Result<Self> {
        promise::sync(&env, || {
            Ok(NativeClient {
                client: Client::from_config(Path::new(&path), profile.as_deref())?,
            })
        })
    }

    /// The operator descriptor (JSON text). No network.
    #[napi]
    pub fn describe(&self) -> String {
        to_text(&self.client.describe())
    }

    /// The operator checks (JSON text), off the JavaScript thread.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn doctor<'e>(&self, env: &'e Env) -> napi::Result<Object<'e>> {
        let client = self.client.clone();
        promise::run(env, move || Ok(to_text(&client.doctor())))
    }

    /// The model catalog (JSON array text), off the JavaScript thread; `cancel` aborts the
    /// catalog request in flight.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn list_models<'e>(
        &self,
        env: &'e Env,
        cancel: Option<&NativeCancel>,
    ) -> napi::Result<Object<'e>> {
        let client = self.client.clone();
        let options = aigw_core::RequestOptions {
            cancel: cancel.map(NativeCancel::token),
            ..aigw_core::RequestOptions::default()
        };
        promise::run(env, move || {
            Ok(Value::Array(client.list_models_with(&options)?).to_string())
        })
    }

    /// A chat completion (JSON text), off the JavaScript thread; `cancel` aborts it in flight.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn chat<'e>(
        &self,
        env: &'e Env,
        request_json: String,
        options_json: Option<String>,
        cancel: Option<&NativeCancel>,
    ) -> napi::Result<Object<'e>> {
        let client = self.client.clone();
        let token = cancel.map(NativeCancel::token);
        promise::run(env, move || {
            let options = options_with(options_json.as_deref(), token)?;
            client.chat_text(parse_request(&request_json)?, &options)
        })
    }

    /// A chat completion (JSON text), blocking the JavaScript thread.
    #[napi]
    pub fn chat_sync(
        &self,
        env: Env,
        request_json: String,
        options_json: Option<String>,
    ) -> napi::Result<String> {
        promise::sync(&env, || {
            let options = options_from_json(options_json.as_deref())?;
            self.client
                .chat_text(parse_request(&request_json)?, &options)
        })
    }

    /// Embeddings (JSON text), off the JavaScript thread; `cancel` aborts them in flight.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn embeddings<'e>(
        &self,
        env: &'e Env,
        request_json: String,
        options_json: Option<String>,
        cancel: Option<&NativeCancel>,
    ) -> napi::Result<Object<'e>> {
        let client = self.client.clone();
        let token = cancel.map(NativeCancel::token);
        promise::run(env, move || {
            let options = options_with(options_json.as_deref(), token)?;
            client.embeddings_text(parse_request(&request_json)?, &options)
        })
    }

    /// Embeddings (JSON text), blocking the JavaScript thread.
    #[napi]
    pub fn embeddings_sync(
        &self,
        env: Env,
        request_json: String,
        options_json: Option<String>,
    ) -> napi::Result<String> {
        promise::sync(&env, || {
            let options = options_from_json(options_json.as_deref())?;
            self.client
                .embeddings_text(parse_request(&request_json)?, &options)
        })
    }

    /// Starts a streaming chat; the stream opens on the pool. Malformed options throw here.
    /// A `cancel` already cancelled gives a stream that fails with `CANCELLED` without any I/O.
    #[napi]
    pub fn chat_stream(
        &self,
        env: Env,
        request_json: String,
        options_json: Option<String>,
        cancel: Option<&NativeCancel>,
    ) -> napi::Result<NativeStream> {
        let options = promise::sync(&env, || options_from_json(options_json.as_deref()))?;
        Ok(NativeStream::open(
            self.client.clone(),
            request_json,
            options,
            cancel.map(NativeCancel::token).unwrap_or_default(),
        ))
    }
}
