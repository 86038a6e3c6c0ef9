//! The provider registry as data (docs/contract.md §2): `providers()`, `resolveKind()`, and the error-code
//! table, each handed over as JSON text that `index.js` parses.

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

use crate::promise;

/// Every built-in kind (JSON array text).
#[napi(js_name = "providersJson")]
pub fn providers_json() -> String {
    aigw_core::providers_json().to_string()
}

/// The kind an id or alias names (JSON object text); throws `CONFIG` for an unknown name.
#[napi(js_name = "resolveKindJson")]
pub fn resolve_kind_json(env: Env, name: String) -> napi::Result<String> {
    promise::sync(&env, || {
        aigw_core::resolve_kind(&name).map(|kind| kind.to_json().to_string())
    })
}

/// Every error code with its C status number (JSON object text).
#[napi(js_name = "codesJson")]
pub fn codes_json() -> String {
    crate::error::codes_json()
}

/// An `INVALID_ARGUMENT` error for arguments `index.js` cannot encode (cyclic objects, BigInt).
#[napi(js_name = "invalidArgument", ts_return_type = "never")]
pub fn invalid_argument(env: Env, message: String) -> napi::Result<()> {
    Err(crate::error::to_napi(
        &env,
        &aigw_core::Error::invalid_argument(message),
    ))
}

/// A `CANCELLED` error, returned (not thrown), for the calls `index.js` rejects itself when their
/// `AbortSignal` aborts: an already-aborted signal, and `listModels()` (whose catalog request
/// core cannot interrupt).
#[napi(js_name = "cancelledError", ts_return_type = "Error")]
pub fn cancelled_error<'e>(env: &'e Env, message: String) -> napi::Result<Object<'e>> {
    crate::error::error_object(
        env,
        &aigw_core::Error::new(aigw_core::ErrorCode::Cancelled, message),
    )
}
