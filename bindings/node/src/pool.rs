//! The dedicated worker pool every blocking call runs on, instead of libuv's (4 threads by
//! default, shared with `fs`, `dns.lookup`, `crypto` and `zlib`): a request waiting on a slow
//! gateway holds a thread for its whole duration, so 32 concurrent `chat()`s on libuv's pool
//! would queue behind each other and stall the application's own file and DNS work.
//!
//! Threads start on demand up to a cap (`AIGW_NODE_MAX_THREADS`, default 128) and retire after
//! being idle for a while, so `require('aigw')` starts none. Jobs beyond the cap wait in FIFO order.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

const DEFAULT_MAX_THREADS: usize = 128;
const IDLE_RETIRE: Duration = Duration::from_secs(15);

struct Pool {
    state: Mutex<State>,
    wake: Condvar,
    max_threads: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
        max_threads: max_threads_from_env(),
    })
}

fn max_threads_from_env() -> usize {
    std::env::var("AIGW_NODE_MAX_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(DEFAULT_MAX_THREADS, |n| n.clamp(1, 1024))
}

fn lock(pool: &Pool) -> MutexGuard<'_, State> {
    // Jobs run outside the lock and panics inside them are caught, so a poisoned lock still
    // holds consistent counters.
    pool.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `job` on a pool thread. A panic inside the job is caught and ends only that job (jobs
/// report their own panics; see `promise::run`).
pub(crate) fn spawn(job: impl FnOnce() + Send + 'static) {
    let pool = pool();
    let mut state = lock(pool);
    state.queue.push_back(Box::new(job));
    if state.queue.len() > state.idle && state.threads < pool.max_threads {
        let started = std::thread::Builder::new()
            .name("aigw-node-worker".into())
            .spawn(move || worker(pool));
        if started.is_ok() {
            state.threads += 1;
        }
    }
    drop(state);
    pool.wake.notify_one();
}

fn worker(pool: &'static Pool) {
    let mut state = lock(pool);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            let _ = catch_unwind(AssertUnwindSafe(job));
            state = lock(pool);
            continue;
        }
        state.idle += 1;
        let (next, timeout) = pool
            .wake
            .wait_timeout(state, IDLE_RETIRE)
            .unwrap_or_else(PoisonError::into_inner);
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}
