//! One helper wraps every asynchronous call: it creates the promise on the JavaScript thread,
//! runs the blocking core call on core's worker pool (`aigw_core::pool`), and settles the promise
//! back on the JavaScript thread (a resolved string, or the `Error` of [`error`](crate::error)).
//!
//! Settling goes through one completion path per environment (the main thread, each worker
//! thread): a single thread-safe function whose queue carries `(promise, result)` pairs, made on
//! the environment's first async call. napi's `JsDeferred` makes a thread-safe function per
//! promise instead (a libuv handle opened and closed, two cleanup hooks added and removed, per
//! call and per stream chunk). Node drains the queue in batches, so results that arrive together
//! (a thousand streams reading at once) cost one wake-up of the event loop, and promises settle
//! in the order their results arrived.
//!
//! The event loop is kept alive while a promise is pending, and only then: the thread-safe
//! function is referenced while the environment's count of pending promises is above zero (an
//! unread stream holds no promise, so it does not keep Node alive). When the environment tears
//! down, a cleanup hook closes the path first; results that arrive later are dropped.

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aigw_core::{Error, ErrorCode};
use napi::bindgen_prelude::{JsValue, Object, ToNapiValue};
use napi::{check_status, sys, Env, JsError};

use crate::error;

/// An environment's completion path, shared with the threads that settle its promises.
struct Path {
    /// The thread-safe function; `None` once the environment started tearing down. The lock is
    /// held across each call into it, so teardown cannot free it while a settle is inside.
    tsfn: Mutex<Option<Tsfn>>,
}

struct Tsfn(sys::napi_threadsafe_function);

// Calling a thread-safe function from any thread is what it is for; the mutex in `Path` hands
// the pointer out and takes it away at teardown.
unsafe impl Send for Tsfn {}

impl Path {
    fn lock(&self) -> MutexGuard<'_, Option<Tsfn>> {
        self.tsfn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The environment's state, on its JavaScript thread only.
struct Local {
    env: sys::napi_env,
    tsfn: sys::napi_threadsafe_function,
    path: Arc<Path>,
    /// Promises created and not settled yet; the path keeps the event loop alive while > 0.
    pending: usize,
}

thread_local! {
    /// The completion path of the environment running on this thread (one at a time).
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// A result travelling to the JavaScript thread.
struct Completion {
    deferred: sys::napi_deferred,
    result: Result<String, Error>,
}

/// This environment's path (made on first use), with one more pending promise counted.
fn open_path(env: &Env) -> napi::Result<Arc<Path>> {
    let raw = env.raw();
    LOCAL.with(|cell| {
        let mut local = cell.borrow_mut();
        if local.as_ref().is_none_or(|l| l.env != raw) {
            *local = Some(new_path(raw)?);
        }
        let local = local.as_mut().expect("just set");
        if local.pending == 0 {
            check_status!(unsafe { sys::napi_ref_threadsafe_function(raw, local.tsfn) })?;
        }
        local.pending += 1;
        Ok(Arc::clone(&local.path))
    })
}

/// Counts a settled promise on the JavaScript thread; lets the event loop go at zero.
fn settled_one(env: sys::napi_env) {
    LOCAL.with(|cell| {
        if let Some(local) = cell.borrow_mut().as_mut().filter(|l| l.env == env) {
            local.pending = local.pending.saturating_sub(1);
            if local.pending == 0 {
                unsafe { sys::napi_unref_threadsafe_function(env, local.tsfn) };
            }
        }
    });
}

fn new_path(env: sys::napi_env) -> napi::Result<Local> {
    let mut name = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, c"aigw_settle".as_ptr(), 11, &mut name)
    })?;
    let mut tsfn = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0, // an unbounded queue: a settle never blocks or fails for room
            1,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            Some(settle_on_js_thread),
            &mut tsfn,
        )
    })?;
    // Referenced only while a promise is pending (`open_path`).
    unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
    let path = Arc::new(Path {
        tsfn: Mutex::new(Some(Tsfn(tsfn))),
    });
    // Added after the thread-safe function, so it runs before Node's own teardown of it
    // (cleanup hooks run in reverse order). The hook owns one count of `path`.
    let hook_data = Arc::into_raw(Arc::clone(&path)) as *mut c_void;
    let added = unsafe { sys::napi_add_env_cleanup_hook(env, Some(teardown), hook_data) };
    if added != sys::Status::napi_ok {
        unsafe {
            drop(Arc::from_raw(hook_data as *const Path));
            sys::napi_release_threadsafe_function(tsfn, sys::ThreadsafeFunctionReleaseMode::abort);
        }
        check_status!(added)?;
    }
    Ok(Local {
        env,
        tsfn,
        path,
        pending: 0,
    })
}

/// The environment is tearing down: close the path before Node frees the thread-safe
/// function; later results are dropped.
unsafe extern "C" fn teardown(data: *mut c_void) {
    let path = unsafe { Arc::from_raw(data as *const Path) };
    if let Some(Tsfn(tsfn)) = path.lock().take() {
        unsafe {
            sys::napi_release_threadsafe_function(tsfn, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
    LOCAL.with(|cell| {
        if let Ok(mut local) = cell.try_borrow_mut() {
            if local.as_ref().is_some_and(|l| Arc::ptr_eq(&l.path, &path)) {
                *local = None;
            }
        }
    });
}

/// Runs on the JavaScript thread for each queued result (`env` is null when the queue is
/// emptied at teardown: the result is only dropped).
unsafe extern "C" fn settle_on_js_thread(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    let completion = unsafe { Box::from_raw(data as *mut Completion) };
    if env.is_null() {
        return;
    }
    settled_one(env);
    let Completion { deferred, result } = *completion;
    let handle = Env::from_raw(env);
    let outcome = match result {
        Ok(text) => unsafe { String::to_napi_value(env, text) }
            .map(|value| unsafe { sys::napi_resolve_deferred(env, deferred, value) }),
        Err(e) => error::error_object(&handle, &e)
            .map(|obj| unsafe { sys::napi_reject_deferred(env, deferred, obj.raw()) }),
    };
    if let Err(failed) = outcome {
        // The value could not be made (out of memory, a string too long for V8): the promise
        // still settles, with that failure.
        unsafe {
            let value = JsError::from(failed).into_value(env);
            sys::napi_reject_deferred(env, deferred, value);
        }
    }
}

/// A pending promise that resolves to a string. Dropping it unsettled rejects it with
/// `INTERNAL`, so no promise (and no event-loop reference) is ever left hanging.
pub(crate) struct Pending {
    deferred: sys::napi_deferred,
    path: Option<Arc<Path>>,
}

// The deferred is only used on the JavaScript thread, in `settle_on_js_thread`.
unsafe impl Send for Pending {}

impl Pending {
    /// A new promise and its settle handle; call on the JavaScript thread.
    pub(crate) fn new(env: &Env) -> napi::Result<(Pending, Object<'_>)> {
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
        let path = match open_path(env) {
            Ok(path) => path,
            Err(failed) => {
                // No way back to settle it later: reject it now.
                unsafe {
                    let value = JsError::from(failed).into_value(env.raw());
                    sys::napi_reject_deferred(env.raw(), deferred, value);
                }
                return Err(napi::Error::from_reason(
                    "aigw could not set up its completion path",
                ));
            }
        };
        let promise = Object::from_raw(env.raw(), promise);
        Ok((
            Pending {
                deferred,
                path: Some(path),
            },
            promise,
        ))
    }

    /// Settles the promise; callable from any thread.
    pub(crate) fn settle(mut self, result: Result<String, Error>) {
        self.send(result);
    }

    fn send(&mut self, result: Result<String, Error>) {
        let Some(path) = self.path.take() else {
            return;
        };
        let tsfn = path.lock();
        let Some(Tsfn(tsfn)) = tsfn.as_ref() else {
            // The environment is gone, and the promise with it.
            return;
        };
        let data = Box::into_raw(Box::new(Completion {
            deferred: self.deferred,
            result,
        }));
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                *tsfn,
                data.cast(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
        if status != sys::Status::napi_ok {
            // Closing: the environment is tearing down; nothing will run the callback.
            drop(unsafe { Box::from_raw(data) });
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.path.is_some() {
            self.send(Err(Error::new(
                ErrorCode::Internal,
                "the operation ended without a result (a bug; please report it)",
            )));
        }
    }
}

/// Runs `job` off the JavaScript thread and returns a promise of its result.
pub(crate) fn run<'e>(
    env: &'e Env,
    job: impl FnOnce() -> Result<String, Error> + Send + 'static,
) -> napi::Result<Object<'e>> {
    let (pending, promise) = Pending::new(env)?;
    aigw_core::pool::spawn(move || pending.settle(guard(job)));
    Ok(promise)
}

/// Calls `f`, turning a panic into an `INTERNAL` error.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    aigw_core::error::catch_panic(f)
}

/// For synchronous calls: runs `f` (panics caught) and maps its error to a thrown `Error`.
pub(crate) fn sync<T>(env: &Env, f: impl FnOnce() -> Result<T, Error>) -> napi::Result<T> {
    guard(f).map_err(|e| error::to_napi(env, &e))
}
