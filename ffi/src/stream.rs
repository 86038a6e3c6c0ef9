//! `aigw_stream`: a streaming chat answer read chunk by chunk. The cancel handle sits outside
//! the lock that guards reading, so `aigw_stream_cancel` works from any thread, even while
//! another thread is inside `aigw_stream_next`.

use std::ffi::c_char;
use std::sync::{Mutex, PoisonError};

use aigw_core::{CancelHandle, ChatStream, Error, ErrorCode};
use serde_json::Value;

use crate::boundary::{self, object, out, owned_json};
use crate::error::aigw_error;
use crate::status::aigw_status;

/// An open streaming chat answer. Read it from one thread at a time with `aigw_stream_next`;
/// cancel it from any thread with `aigw_stream_cancel`; free it with `aigw_stream_free`.
pub struct aigw_stream {
    cancel: CancelHandle,
    /// Replaced once, when the stream ends, by the metadata with `usage` and `cost`.
    meta: Mutex<Value>,
    reading: Mutex<Reading>,
}

struct Reading {
    stream: ChatStream,
    /// The last chunk's JSON text plus a NUL byte: what `aigw_stream_next` lends to C.
    chunk: Vec<u8>,
}

impl aigw_stream {
    pub(crate) fn into_raw(stream: ChatStream) -> *mut aigw_stream {
        let handle = aigw_stream {
            cancel: stream.cancel_handle(),
            meta: Mutex::new(stream.meta().clone()),
            reading: Mutex::new(Reading {
                stream,
                chunk: Vec::new(),
            }),
        };
        Box::into_raw(Box::new(handle))
    }
}

/// `aigw_stream_cancel` reads the stream from other threads while one reads chunks.
const _: fn() = || {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<aigw_stream>();
};

/// The response metadata, available as soon as the stream is open: `status`, `model` (the one
/// selected), `request_id`, `cf_aig_log_id`, `cache_status`, `step` and `attempts` (docs/contract.md section 6);
/// once `aigw_stream_next` returned `AIGW_STATUS_DONE`, also `usage` and `cost` (section 14).
///
/// On `AIGW_STATUS_OK`, `*json_out` receives an owned string to free with `aigw_string_free`.
/// `stream` and `json_out` must not be NULL; `err` may be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_stream_meta_json(
    stream: *const aigw_stream,
    json_out: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    boundary::call(err, || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by the "Ownership"
        // convention, `stream` is a stream aigw returned that has not been freed. `meta` is
        // behind its own mutex, so a shared borrow is sound on any thread.
        let stream = unsafe { object(stream, "stream") }?;
        let json_out = out(json_out, "json_out")?;
        let json = owned_json(&stream.meta.lock().unwrap_or_else(PoisonError::into_inner))?;
        // SAFETY: `json_out` is a non-NULL `char **` out-param (checked by `out`), writable for
        // a `char *` by the header's "Out-params" convention.
        unsafe { json_out.write(json) };
        Ok(aigw_status::Ok)
    })
}

/// Reads the next chunk: the JSON text of one SSE event (an OpenAI `chat.completion.chunk`), or
/// the whole body when the upstream answered with plain JSON instead of SSE.
///
/// Returns `AIGW_STATUS_OK` with `*chunk_json` pointing at NUL-terminated JSON and `*len` its
/// length in bytes (without the NUL); `AIGW_STATUS_DONE` when the stream has ended (and on every
/// later call), writing neither; or an error status (`AIGW_STATUS_CANCELLED` after
/// `aigw_stream_cancel`, `AIGW_STATUS_PROTOCOL` for a truncated or malformed stream,
/// `AIGW_STATUS_TIMEOUT`, `AIGW_STATUS_CONNECTION`, or the status of an error event), after
/// which the stream is closed.
///
/// The chunk is borrowed from the stream: it stays valid until the next `aigw_stream_next` or
/// `aigw_stream_free` on this stream, whichever comes first; do not free it. Blocking network
/// I/O. `stream`, `chunk_json` and `len` must not be NULL; `err` may be NULL. Call it from one
/// thread at a time (concurrent calls are serialized, but each invalidates the other's chunk).
#[no_mangle]
pub unsafe extern "C" fn aigw_stream_next(
    stream: *mut aigw_stream,
    chunk_json: *mut *const c_char,
    len: *mut usize,
    err: *mut *mut aigw_error,
) -> aigw_status {
    boundary::call(err, || {
        // Shared, not exclusive: `aigw_stream_cancel` may be reading `cancel` right now.
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise, by the "Ownership"
        // convention, `stream` is a stream aigw returned that has not been freed (and "Thread
        // safety" forbids freeing it while this call runs). Reading goes through the mutex.
        let stream = unsafe { object(stream.cast_const(), "stream") }?;
        let chunk_json = out(chunk_json, "chunk_json")?;
        let len = out(len, "len")?;
        let mut reading = stream.reading.lock().map_err(|_| {
            Error::new(
                ErrorCode::Internal,
                "internal error: the stream is unusable after an earlier internal error; free it",
            )
        })?;
        let Some(chunk) = reading.stream.next_chunk()? else {
            // The final metadata carries `usage` and `cost`.
            let end = reading.stream.meta().clone();
            *stream.meta.lock().unwrap_or_else(PoisonError::into_inner) = end;
            return Ok(aigw_status::Done);
        };
        let buffer = &mut reading.chunk;
        buffer.clear();
        buffer.extend_from_slice(chunk.text.as_bytes());
        buffer.push(0);
        // SAFETY: `chunk_json` is a non-NULL `const char **` out-param (checked by `out`),
        // writable for a `const char *` by the header's "Out-params" convention. The pointer
        // written stays valid as this function's comment says: the buffer lives in the stream
        // and is only touched again by the next `aigw_stream_next` or by `aigw_stream_free`.
        unsafe { chunk_json.write(buffer.as_ptr().cast()) };
        // SAFETY: `len` is a non-NULL `size_t *` out-param (checked by `out`), writable for a
        // `size_t` (`usize`) by the header's "Out-params" convention.
        unsafe { len.write(chunk.text.len()) };
        Ok(aigw_status::Ok)
    })
}

/// Cancels the stream: the next (or current, once its read returns) `aigw_stream_next` returns
/// `AIGW_STATUS_CANCELLED` and the connection is dropped. A read blocked waiting for data
/// (a stalled upstream) ends within about 100 ms of the cancel.
///
/// Thread-safe: may be called from any thread, also while another thread is inside
/// `aigw_stream_next`, as long as the stream has not been freed. Cancelling twice is harmless.
/// Returns `AIGW_STATUS_OK`, or `AIGW_STATUS_INVALID_ARGUMENT` when `stream` is NULL.
#[no_mangle]
pub unsafe extern "C" fn aigw_stream_cancel(stream: *const aigw_stream) -> aigw_status {
    boundary::call(std::ptr::null_mut(), || {
        // SAFETY: `object` turns NULL into INVALID_ARGUMENT; otherwise `stream` is a stream aigw
        // returned that this function's comment requires not to be freed yet. Only the
        // `Sync` cancel handle is used, so another thread inside `aigw_stream_next` is fine.
        let stream = unsafe { object(stream, "stream") }?;
        stream.cancel.cancel();
        Ok(aigw_status::Ok)
    })
}

/// Frees a stream, dropping its connection if the answer was not read to the end. NULL is a
/// no-op. No other thread may be using the stream; its borrowed chunk becomes invalid.
#[no_mangle]
pub unsafe extern "C" fn aigw_stream_free(stream: *mut aigw_stream) {
    // SAFETY: NULL is allowed ("Every _free function accepts NULL"); otherwise, by the
    // "Ownership" convention, `stream` came from `aigw_client_chat_stream` (a `Box::into_raw` in
    // `aigw_stream::into_raw`), is freed once, and by this function's comment no other thread
    // is using it, so no borrowed chunk is still read.
    unsafe { boundary::free_boxed(stream) }
}
