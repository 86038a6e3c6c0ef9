//! One module per fuzz target: its dictionary and its property check.

pub mod config;
pub mod envelope;
pub mod secret_ref;
pub mod sse;
