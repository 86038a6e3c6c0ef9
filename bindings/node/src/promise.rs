//! One helper wraps every asynchronous call: it creates the promise on the JavaScript thread,
//! runs the blocking core call on core's worker pool (`aigw_core::pool`), and settles the promise
//! back on the JavaScript thread (a resolved string, or the `Error` of [`error`](crate::error)).

use aigw_core::{Error, ErrorCode};
use napi::bindgen_prelude::Object;
use napi::{Env, JsDeferred};

use crate::error;

type Resolver = Box<dyn FnOnce(Env) -> napi::Result<String> + Send>;

/// A pending promise that resolves to a string. Dropping it unsettled rejects it with
/// `INTERNAL`, so no promise (and no event-loop reference) is ever left hanging.
pub(crate) struct Pending {
    deferred: Option<JsDeferred<String, Resolver>>,
}

impl Pending {
    /// A new promise and its settle handle; call on the JavaScript thread.
    pub(crate) fn new(env: &Env) -> napi::Result<(Pending, Object<'_>)> {
        let (deferred, promise) = env.create_deferred::<String, Resolver>()?;
        Ok((
            Pending {
                deferred: Some(deferred),
            },
            promise,
        ))
    }

    /// Settles the promise; callable from any thread.
    pub(crate) fn settle(mut self, result: Result<String, Error>) {
        if let Some(deferred) = self.deferred.take() {
            deferred.resolve(Box::new(move |env| match result {
                Ok(text) => Ok(text),
                Err(e) => Err(error::to_napi(&env, &e)),
            }));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.deferred.is_some() {
            let dropped = Error::new(
                ErrorCode::Internal,
                "the operation ended without a result (a bug; please report it)",
            );
            Pending {
                deferred: self.deferred.take(),
            }
            .settle(Err(dropped));
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
