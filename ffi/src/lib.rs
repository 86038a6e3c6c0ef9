//! aigw-ffi: the C ABI of aigw (docs/contract.md section 10), a thin translator over `aigw-core`.
//!
//! Every exported function runs inside [`boundary`] (NULL and UTF-8 checks, panics caught and
//! reported as `AIGW_STATUS_INTERNAL`); core error codes become C statuses in one place,
//! [`status::c_code`]. `include/aigw.h` is generated from these files by cbindgen
//! (`tests/header.rs` regenerates it and fails when the checked-in copy is stale).

#![warn(missing_docs)]
#![allow(non_camel_case_types)]
// Inside an `unsafe fn` every unsafe operation still needs its own `unsafe { }` block, and every
// such block a SAFETY comment naming the caller contract (header preamble or the function's own
// comment) that makes it sound.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// The exported functions are `unsafe` because they take raw pointers from C; their safety
// contract (valid or NULL pointers, NUL-terminated strings, ownership) is written once in the
// header preamble and per function in C terms, which is where C callers read it.
#![allow(clippy::missing_safety_doc)]

pub mod boundary;
pub mod cancel;
pub mod client;
pub mod error;
pub mod status;
pub mod stream;
pub mod strings;

pub use cancel::aigw_cancel_token;
pub use client::aigw_client;
pub use error::aigw_error;
pub use status::aigw_status;
pub use stream::aigw_stream;
