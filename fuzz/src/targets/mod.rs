//! One module per fuzz target: its dictionary and its property check.

pub mod anthropic_stream;
pub mod config;
pub mod envelope;
pub mod eventstream;
pub mod secret_ref;
pub mod sse;
