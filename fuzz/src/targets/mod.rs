//! One module per fuzz target: its dictionary, its structured generator (if any) and its
//! property check.

pub mod config;
pub mod envelope;
pub mod secret_ref;
pub mod sse;
