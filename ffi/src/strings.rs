//! Process-wide functions: the version, the provider registry, and freeing owned strings.

use std::ffi::{c_char, CStr, CString};

use crate::boundary;
use crate::error::aigw_error;
use crate::status::aigw_status;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version holds a NUL byte"),
    };

/// The library version, e.g. `"0.1.0"`: the same as `AIGW_VERSION_MAJOR.MINOR.PATCH` of the
/// header it was built with (compare them to detect a header/library mismatch).
///
/// Returns a static string (never free it). Thread-safe.
#[no_mangle]
pub extern "C" fn aigw_version() -> *const c_char {
    boundary::guard(VERSION.as_ptr(), || VERSION.as_ptr())
}

/// The built-in provider registry as a JSON array, one object per kind (`id`, `display_name`,
/// `group`, `protocol_family`, `aliases`, `default_base_url`, `chat_path`, credential envs, ...).
///
/// On `AIGW_STATUS_OK`, `*json_out` receives an owned string to free with `aigw_string_free`.
/// `json_out` must not be NULL; `err` may be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aigw_providers_json(
    json_out: *mut *mut c_char,
    err: *mut *mut aigw_error,
) -> aigw_status {
    boundary::call(err, || {
        let json_out = boundary::out(json_out, "json_out")?;
        let json = boundary::owned_json(&aigw_core::providers_json())?;
        // SAFETY: `json_out` is a non-NULL `char **` out-param, writable for a `char *` by the
        // header's "Out-params" convention.
        unsafe { json_out.write(json) };
        Ok(aigw_status::Ok)
    })
}

/// Frees a string aigw returned as an owned `char *` (JSON documents). NULL is a no-op.
///
/// Only strings from aigw's `char **` out-params may be passed, each once, with their length
/// unchanged (do not write a NUL byte inside them); never pass them to `free()`, and never pass
/// borrowed `const char *` views here.
#[no_mangle]
pub unsafe extern "C" fn aigw_string_free(string: *mut c_char) {
    // Not `boundary::free_boxed`: an owned string is a `CString` (its length found again by its
    // NUL), not a `Box<c_char>`, so it must be rebuilt with `CString::from_raw`.
    boundary::guard((), || {
        if !string.is_null() {
            // SAFETY: `string` is not NULL, and this function's comment allows only strings from
            // aigw's `char **` out-params, passed once with their length unchanged: each came
            // from `CString::into_raw` in `boundary::owned_string`, so the length `from_raw`
            // finds again is the allocated one, and it is freed exactly once.
            drop(unsafe { CString::from_raw(string) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(aigw_version()) };
        assert_eq!(v.to_str().ok(), Some(aigw_core::VERSION));
    }
}
