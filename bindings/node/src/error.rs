//! Core errors as JavaScript `Error`s: `.code` is the docs/contract.md §8 string, with `.status`,
//! `.httpStatus`, `.providerCode`, `.retryAfterMs`, `.requestId` and `.attempts` beside it.
//! The same object is thrown by sync calls and rejected by async ones.

use aigw_core::{Attempt, Error, ErrorCode};
use napi::bindgen_prelude::{JsValue, Object};
use napi::Env;

/// Every code with its C status number, as JSON (`{"OK": 0, …}`), for `aigw.codes`.
pub(crate) fn codes_json() -> String {
    let map: serde_json::Map<String, serde_json::Value> = aigw_core::error::SUCCESS_STATUSES
        .into_iter()
        .chain(ErrorCode::ALL.iter().map(|c| (c.as_str(), c.status())))
        .map(|(name, number)| (name.to_string(), number.into()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn attempt_object<'e>(env: &'e Env, attempt: &Attempt) -> napi::Result<Object<'e>> {
    let mut obj = Object::new(env)?;
    obj.set("status", attempt.status.map(u32::from))?;
    obj.set("error", attempt.error.map(ErrorCode::as_str))?;
    obj.set("model", attempt.model.as_str())?;
    obj.set("key_index", attempt.key_index as f64)?;
    obj.set("delay_ms", attempt.delay_ms as f64)?;
    Ok(obj)
}

/// The `Error` object of `e`, not thrown. Must run on the JavaScript thread.
pub(crate) fn error_object<'e>(env: &'e Env, e: &Error) -> napi::Result<Object<'e>> {
    let mut obj = env.create_error(napi::Error::from_reason(e.message.as_str()))?;
    obj.set("code", e.code.as_str())?;
    obj.set("status", e.code.status())?;
    obj.set("httpStatus", e.http_status.map(u32::from))?;
    obj.set("providerCode", e.provider_code.as_deref())?;
    obj.set("retryAfterMs", e.retry_after_ms.map(|ms| ms as f64))?;
    obj.set("requestId", e.request_id.as_deref())?;
    let attempts = e
        .attempts
        .iter()
        .map(|a| attempt_object(env, a))
        .collect::<napi::Result<Vec<_>>>()?;
    obj.set("attempts", attempts)?;
    Ok(obj)
}

/// The core error as a napi error that throws (or rejects with) the `Error` object above.
/// Must run on the JavaScript thread.
pub(crate) fn to_napi(env: &Env, e: &Error) -> napi::Error {
    match error_object(env, e) {
        Ok(obj) => napi::Error::from(obj.to_unknown()),
        Err(failed) => failed,
    }
}
