//! Node binding of aigw (`require('aigw')`): a thin translator over `aigw-core`, one file per
//! concept like the core tree. JSON crosses the boundary as text (`JSON.stringify` /
//! `JSON.parse` in `index.js` are faster than walking objects through Node-API), blocking work
//! runs on a dedicated thread pool ([`pool`]), and errors become `Error`s with `.code` ([`error`]).

mod client;
mod error;
mod pool;
mod profile;
mod promise;
mod registry;
mod stream;

/// The aigw version, shared by every language binding.
#[napi_derive::napi]
pub const VERSION: &str = aigw_core::VERSION;
