//! Node binding of aigw (`require('aigw')`): a thin translator over `aigw-core`, one file per
//! concept like the core tree. JSON crosses the boundary as text (`JSON.stringify` /
//! `JSON.parse` in `index.js` are faster than walking objects through Node-API), blocking work
//! runs on core's worker pool (`aigw_core::pool`, shared with Python's async client: it grows on
//! demand up to `AIGW_MAX_THREADS`), and errors become `Error`s with `.code` ([`error`]).

mod cancel;
mod client;
mod error;
mod profile;
mod promise;
mod registry;
mod stream;

/// The aigw version, shared by every language binding.
#[napi_derive::napi]
pub const VERSION: &str = aigw_core::VERSION;
