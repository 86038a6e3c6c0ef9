//! `aigw_client`: construction from a profile or a config file, the operator surfaces
//! (describe, doctor, list-models), and chat (whole answers and streams).

use std::ffi::c_char;
use std::path::Path;

use aigw_core::{Client, Error, RequestOptions};
use serde_json::Value;

use crate::boundary::{self, input_str, object, optional_str, out, owned_json, owned_string};
use crate::cancel::{self, aigw_cancel_token};
use crate::error::aigw_error;
use crate::status::aigw_status;
use crate::stream::aigw_stream;

/// A configured client: resolved route, credentials and one keep-alive connection pool.
/// Immutable once built, so a `const aigw_client *` may be used by many threads at once.
pub struct aigw_client {
    client: Client,
}

impl aigw_client {
    /// The core client (for Rust callers and tests).
    pub fn inner(&self) -> &Client {
        &self.client
    }
}

fn into_raw(client: Client) -> *mut aigw_client {
    Box::into_raw(Box::new(aigw_client { client }))
}

fn parse_request(request_json: &str) -> Result<Value, Error> {
    serde_json::from_str(request_json)
        .map_err(|e| Error::invalid_argument(format!("`request_json` is not valid JSON: {e}")))
}

fn parse_options(options_json: Option<&str>) -> Result<RequestOptions, Error> {
    options_json.map_or_else(
        || Ok(RequestOptions::default()),
        RequestOptions::from_json_str,
    )
}

/// Builds a client from a profile given as a JSON object (docs/contract.md section 3: `kind`, `base_url`,
/// `account_id`, `gateway_name`, `model`, `api_key`, `headers`, `gateway`, timeouts, ...).
///
/// Does no network I/O. Unresolved placeholders and missing credentials do not fail here; they
/// fail every network call (and show in `aigw_client_describe`). An unknown kind, an unknown
/// field or a bad URL is `AIGW_STATUS_CONFIG`.
///
/// On `AIGW_STATUS_OK`, `*client_out` receives a client to free with `aigw_client_free`.
/// `profile_json` (borrowed for the call) and `client_out` must not be NULL; `err` may be NULL.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_new(
    profile_json: *const c_char,
    client_out: *mut *mut aigw_client,
    err: *mut *mut aigw_error,
) -> aigw_status {
    boundary::call(err, || {
        // SAFETY: `input_str` turns NULL into INVALID_ARGUMENT; otherwise `profile_json` is a
        // NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let profile_json = unsafe { input_str(profile_json, "profile_json") }?;
        let client_out = out(client_out, "client_out")?;
        let client = Client::from_json_str(profile_json)?;
        // SAFETY: `client_out` is a non-NULL `aigw_client **` out-param (checked by `out`),
        // writable for an `aigw_client *` by the header's "Out-params" convention.
        unsafe { client_out.write(into_raw(client)) };
        Ok(aigw_status::Ok)
    })
}

/// Builds a client from a config file (`.json` is JSON, `.toml` TOML, else sniffed): the
/// profile `profile_id`, or when it is NULL the file's `active_provider`, else its only profile.
///
/// Reads the file; does no network I/O. On `AIGW_STATUS_OK`, `*client_out` receives a client to
/// free with `aigw_client_free`. `path` and `client_out` must not be NULL; `profile_id` and `err`
/// may be NULL. Strings are borrowed for the call. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_from_config(
    path: *const c_char,
    profile_id: *const c_char,
    client_out: *mut *mut aigw_client,
    err: *mut *mut aigw_error,
) -> aigw_status {
    boundary::call(err, || {
        // SAFETY: `input_str` turns NULL into INVALID_ARGUMENT; otherwise `path` is a
        // NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let path = unsafe { input_str(path, "path") }?;
        // SAFETY: `profile_id` may be NULL (absent, per this function's comment); otherwise it is
        // a NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let profile_id = unsafe { optional_str(profile_id, "profile_id") }?;
        let client_out = out(client_out, "client_out")?;
        let client = Client::from_config(Path::new(path), profile_id)?;
        // SAFETY: `client_out` is a non-NULL `aigw_client **` out-param (checked by `out`),
        // writable for an `aigw_client *` by the header's "Out-params" convention.
        unsafe { client_out.write(into_raw(client)) };
        Ok(aigw_status::Ok)
    })
}

/// Frees a client. NULL is a no-op. No other thread may be using it; streams opened from it stay
/// valid and must still be freed with `aigw_stream_free`.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_free(client: *mut aigw_client) {
    // SAFETY: NULL is allowed ("Every _free function accepts NULL"); otherwise, by the
    // "Ownership" convention, `client` came from `aigw_client_new` or `aigw_client_from_config`
    // (a `Box::into_raw` in `into_raw`), is freed once, and by this function's comment no other
    // thread is using it. Streams opened from it hold no borrow of it (`ChatStream` has no
    // lifetime), so they stay valid as the comment promises.
    unsafe { boundary::free_boxed(client) }
}

/// The shape of every call that turns the client into one JSON document for C.
///
/// # Safety
/// `client` is NULL or a live client made by aigw; `json_out` is NULL or writable for a
/// `char *`; `err` is NULL or writable for an `aigw_error *`.
unsafe fn json_call(
    client: *const aigw_client,
    json_out: *mut *mut c_char,
    err: *mut *mut aigw_error,
    produce: impl FnOnce(&aigw_core::Client) -> Result<Value, aigw_core::Error>,
) -> aigw_status {
    boundary::call(err, || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by this function's
        // contract, `client` is a live client made by aigw, shared for the call.
        let client = unsafe { object(client, "client") }?;
        let json_out = out(json_out, "json_out")?;
        let json = owned_json(&produce(&client.client)?)?;
        // SAFETY: `json_out` is not NULL (checked by `out`) and, by this function's contract,
        // writable for a `char *`.
        unsafe { json_out.write(json) };
        Ok(aigw_status::Ok)
    })
}

/// The operator descriptor (docs/contract.md section 9) as JSON: kind facts, the resolved `route` (`base_url`,
/// `request_endpoint`, `models_endpoint`, `account_id`, `gateway_name`, `resolved`, `hint`),
/// the `credentials` source (never the key), the model strategy and transport settings.
///
/// No network I/O. On `AIGW_STATUS_OK`, `*json_out` receives an owned string to free with
/// `aigw_string_free`. `client` and `json_out` must not be NULL; `err` may be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_describe(
    client: *const aigw_client,
    json_out: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    // SAFETY: `json_call`'s contract is the header's: `client` is NULL or a client aigw returned
    // that has not been freed ("Ownership"), `json_out` an out-param writable for a `char *`
    // ("Out-params"), `err` NULL or writable for an `aigw_error *` ("Errors").
    unsafe { json_call(client, json_out, err, |client| Ok(client.describe())) }
}

/// The operator checks (docs/contract.md section 9) as JSON: `{"status": "pass"|"warn"|"fail", "checks": [...]}`
/// for `config`, `credentials`, `route` and `model_probe`. A failing check is reported in the
/// document, not as an error status.
///
/// Probes the models endpoint (blocking network I/O). On `AIGW_STATUS_OK`, `*json_out` receives
/// an owned string to free with `aigw_string_free`. `client` and `json_out` must not be NULL;
/// `err` may be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_doctor(
    client: *const aigw_client,
    json_out: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    // SAFETY: `json_call`'s contract is the header's: `client` is NULL or a client aigw returned
    // that has not been freed ("Ownership"), `json_out` an out-param writable for a `char *`
    // ("Out-params"), `err` NULL or writable for an `aigw_error *` ("Errors").
    unsafe { json_call(client, json_out, err, |client| Ok(client.doctor())) }
}

/// The models of the catalog endpoint as a JSON array of objects (each with at least `id`),
/// cached per the profile's `model_catalog_cache_ttl_ms`.
///
/// Blocking network I/O (unless cached). On `AIGW_STATUS_OK`, `*json_out` receives an owned
/// string to free with `aigw_string_free`. `client` and `json_out` must not be NULL; `err` may be
/// NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_list_models(
    client: *const aigw_client,
    json_out: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    // SAFETY: `json_call`'s contract is the header's: `client` is NULL or a client aigw returned
    // that has not been freed ("Ownership"), `json_out` an out-param writable for a `char *`
    // ("Out-params"), `err` NULL or writable for an `aigw_error *` ("Errors").
    unsafe {
        json_call(client, json_out, err, |client| {
            client.list_models().map(Value::Array)
        })
    }
}

/// Sends a chat request and waits for the whole answer.
///
/// `request_json` is an OpenAI chat-completions request object, passed through untouched except
/// that `model` is filled in when absent (it must not set `"stream": true`; use
/// `aigw_client_chat_stream`). `options_json` may be NULL or an object
/// `{"gateway": {...}, "headers": {...}, "timeout_ms": n}` (docs/contract.md sections 6, 7).
///
/// Blocking network I/O, with retries per the profile. On `AIGW_STATUS_OK`, `*response_json`
/// receives the upstream answer plus an `"aigw"` metadata object (`status`, `model`,
/// `request_id`, `cf_aig_log_id`, `cache_status`, `step`, `attempts`), an owned string to free
/// with `aigw_string_free`. `client`, `request_json` and `response_json` must not be NULL;
/// `options_json` and `err` may be NULL. Strings are borrowed for the call. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_chat(
    client: *const aigw_client,
    request_json: *const c_char,
    options_json: *const c_char,
    response_json: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    // SAFETY: `request_call`'s contract is this function's, as its comment states: `client` NULL
    // or a live client ("Ownership"), `request_json` NULL or a NUL-terminated string and
    // `options_json` NULL or one ("Arguments"), `response_json` writable ("Out-params"), `err`
    // NULL or writable ("Errors").
    unsafe {
        request_call(
            client,
            request_json,
            options_json,
            None,
            response_json,
            err,
            |c, r, o| c.chat_text(r, o),
        )
    }
}

/// `aigw_client_chat` that another thread can cancel through `token` (docs/contract.md section
/// 13), made with `aigw_cancel_token_new`.
///
/// `aigw_cancel_token_cancel(token)`, from any thread, ends the call with
/// `AIGW_STATUS_CANCELLED` within about 100 ms, whether it is waiting for the answer, reading it,
/// or waiting between retries; the connection is dropped and the request is not retried (the
/// error's `attempts` list no attempt made after the cancel). When the token is already
/// cancelled, the call returns `AIGW_STATUS_CANCELLED` at once, before any network I/O (no
/// request is sent, no model catalog fetched). The arguments are checked first: a NULL `token`,
/// like any other bad argument, is `AIGW_STATUS_INVALID_ARGUMENT`.
///
/// The call takes its own reference to the token's state as it starts: another thread may
/// cancel the token and then free it while the call runs, and the call still ends with
/// `AIGW_STATUS_CANCELLED` (or, without a cancel, finishes normally). The pointer itself must be
/// live when the call receives it: do not free the token while it is being handed to a call
/// that has not started yet. One token may serve several calls, also at once on several
/// threads: cancelling it cancels all of them. A cancelled token stays cancelled; use a new one
/// for the next call.
///
/// Otherwise as `aigw_client_chat`: on `AIGW_STATUS_OK`, `*response_json` receives the answer
/// with its `"aigw"` metadata, an owned string to free with `aigw_string_free`. `client`,
/// `request_json`, `token` and `response_json` must not be NULL; `options_json` and `err` may be
/// NULL. Strings are borrowed for the call. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_chat_cancellable(
    client: *const aigw_client,
    request_json: *const c_char,
    options_json: *const c_char,
    token: *const aigw_cancel_token,
    response_json: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    // SAFETY: as in `aigw_client_chat`, and `token` is NULL or a token aigw returned that has
    // not been freed ("Ownership"; this function's comment forbids freeing it while it is being
    // handed over), which is what `request_call` asks of it.
    unsafe {
        request_call(
            client,
            request_json,
            options_json,
            Some(token),
            response_json,
            err,
            |c, r, o| c.chat_text(r, o),
        )
    }
}

/// Creates embeddings and waits for the answer (docs/contract.md section 14).
///
/// `request_json` is an OpenAI embeddings request object (`{"input": "text" or [...], "model":
/// ...}`), passed through untouched except that `model` is filled in from the profile's
/// `embedding_model` when absent (neither: `AIGW_STATUS_MODEL_SELECTION`). `options_json` is as
/// for `aigw_client_chat`. POSTs to the route's `.../embeddings`.
///
/// Blocking network I/O, with retries per the profile. On `AIGW_STATUS_OK`, `*response_json`
/// receives the upstream answer plus an `"aigw"` metadata object (with `usage` and `cost`), an
/// owned string to free with `aigw_string_free`. `client`, `request_json` and `response_json`
/// must not be NULL; `options_json` and `err` may be NULL. Strings are borrowed for the call.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_embeddings(
    client: *const aigw_client,
    request_json: *const c_char,
    options_json: *const c_char,
    response_json: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    // SAFETY: as in `aigw_client_chat`: this function's comment states the same contract.
    unsafe {
        request_call(
            client,
            request_json,
            options_json,
            None,
            response_json,
            err,
            |c, r, o| c.embeddings_text(r, o),
        )
    }
}

/// One request (chat or embeddings) answered as JSON text into `*response_json`. With
/// `token` (`Some`, for the `_cancellable` functions) the call is cancellable: NULL is
/// INVALID_ARGUMENT, and a token already cancelled once the arguments are checked ends the call
/// with CANCELLED before anything else (core would otherwise still fetch the model catalog
/// before its first cancellable wait).
///
/// # Safety
/// `client` is NULL or a live client; `request_json` and `options_json` are NULL or
/// NUL-terminated strings valid for the call; `token` is `None`, or holds NULL or a live token
/// not freed before this function took its clone; `response_json` is NULL or writable for a
/// `char *`; `err` is NULL or writable for an `aigw_error *`.
unsafe fn request_call(
    client: *const aigw_client,
    request_json: *const c_char,
    options_json: *const c_char,
    token: Option<*const aigw_cancel_token>,
    response_json: *mut *mut c_char,
    err: *mut *mut aigw_error,
    send: impl FnOnce(
        &aigw_core::Client,
        Value,
        &aigw_core::RequestOptions,
    ) -> aigw_core::Result<String>,
) -> aigw_status {
    boundary::call(err, || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by the "Ownership"
        // convention, `client` is a client aigw returned that has not been freed (and "Thread
        // safety" lets many threads share it, so a shared borrow for the call is sound).
        let client = unsafe { object(client, "client") }?;
        // SAFETY: `input_str` turns NULL into INVALID_ARGUMENT; otherwise `request_json` is a
        // NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let request_json = unsafe { input_str(request_json, "request_json") }?;
        // SAFETY: `options_json` may be NULL (absent, per the callers' comments); otherwise it is
        // a NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let options_json = unsafe { optional_str(options_json, "options_json") }?;
        let cancel = match token {
            // SAFETY: by this function's contract a given `token` is NULL (INVALID_ARGUMENT from
            // `token_of`) or a live token; `token_of` clones the core token and keeps no borrow
            // of the C object, so freeing it on another thread from now on does not affect this
            // call.
            Some(token) => Some(unsafe { cancel::token_of(token) }?),
            None => None,
        };
        let response_json = out(response_json, "response_json")?;
        let request = parse_request(request_json)?;
        let mut options = parse_options(options_json)?;
        if let Some(cancel) = cancel {
            if cancel.is_cancelled() {
                return Err(aigw_core::cancel::cancelled_error("request"));
            }
            options.cancel = Some(cancel);
        }
        let answer = owned_string(send(&client.client, request, &options)?)?;
        // SAFETY: `response_json` is a non-NULL `char **` out-param (checked by `out`),
        // writable for a `char *` by the header's "Out-params" convention.
        unsafe { response_json.write(answer) };
        Ok(aigw_status::Ok)
    })
}

/// Opens a streaming chat (`"stream": true` is set for you). Returns once the response headers
/// arrived; read the chunks with `aigw_stream_next`. Retries happen only before this returns.
///
/// `request_json` and `options_json` are as for `aigw_client_chat`. On `AIGW_STATUS_OK`,
/// `*stream_out` receives a stream to free with `aigw_stream_free`. `client`, `request_json` and
/// `stream_out` must not be NULL; `options_json` and `err` may be NULL. Strings are borrowed for
/// the call. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_client_chat_stream(
    client: *const aigw_client,
    request_json: *const c_char,
    options_json: *const c_char,
    stream_out: *mut *mut aigw_stream,
    err: *mut *mut aigw_error,
) -> aigw_status {
    boundary::call(err, || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by the "Ownership"
        // convention, `client` is a client aigw returned that has not been freed (and "Thread
        // safety" lets many threads share it, so a shared borrow for the call is sound).
        let client = unsafe { object(client, "client") }?;
        // SAFETY: `input_str` turns NULL into INVALID_ARGUMENT; otherwise `request_json` is a
        // NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let request_json = unsafe { input_str(request_json, "request_json") }?;
        // SAFETY: `options_json` may be NULL (absent, per this function's comment); otherwise it is
        // a NUL-terminated string borrowed for the call (the header's "Arguments" convention).
        let options_json = unsafe { optional_str(options_json, "options_json") }?;
        let stream_out = out(stream_out, "stream_out")?;
        let request = parse_request(request_json)?;
        let options = parse_options(options_json)?;
        let stream = client.client.chat_stream(request, &options)?;
        // SAFETY: `stream_out` is a non-NULL `aigw_stream **` out-param (checked by `out`),
        // writable for an `aigw_stream *` by the header's "Out-params" convention.
        unsafe { stream_out.write(aigw_stream::into_raw(stream)) };
        Ok(aigw_status::Ok)
    })
}
