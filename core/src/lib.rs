//! aigw-core: routes and authenticates LLM requests to providers, Cloudflare AI Gateway first.
//!
//! Data flows one way: [`profile`] → [`route`] + [`auth`] credentials → request ([`transport`])
//! → response or [`sse`] stream. [`Client`] ties them together; it is `Send + Sync` and holds one
//! keep-alive HTTP agent shared by every thread.

// `Error` carries the upstream facts operators need (status, codes, attempts); it is returned
// by value on cold paths only, so its size is not worth a Box.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

pub mod agent;
pub mod answer;
pub mod anthropic;
pub mod auth;
pub mod bedrock;
pub mod cancel;
pub mod catalog;
pub mod classify;
pub mod client;
pub mod diagnostics;
pub mod error;
pub mod eventstream;
pub mod fields;
pub mod gateway;
pub mod pool;
pub mod profile;
pub mod registry;
pub mod request;
pub mod retry;
pub mod route;
pub mod scrub;
pub mod secret;
pub mod sse;
pub mod stream;
pub mod translate;
pub mod transport;
pub mod usage;

pub use auth::{Env, Secret, SecretRef};
pub use cancel::CancelToken;
pub use client::Client;
pub use error::{Attempt, Error, ErrorCode, Result};
pub use gateway::GatewayOptions;
pub use profile::{ConfigFile, Profile};
pub use registry::{providers, providers_json, resolve_kind, ProviderKind};
pub use request::RequestOptions;
pub use scrub::Scrubber;
pub use stream::{CancelHandle, ChatStream, StreamChunk};

/// The crate version, shared by every language binding.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
