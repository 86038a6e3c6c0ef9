//! The worker pool the asynchronous bindings (Node, Python's `AsyncClient`) run blocking calls
//! on (docs/contract.md §17). A blocking call holds its thread for the whole request, so the pool
//! must never become a hidden queue:
//! - it grows on demand, one thread per job waiting, up to [`max_threads`] (10 000 by default,
//!   `AIGW_MAX_THREADS` to change it); beyond that, jobs wait in FIFO order (documented);
//! - threads are started by a spawner thread, not by the caller: submitting costs a queue push
//!   and a wake-up, so hundreds of calls started at once do not stall an event loop;
//! - threads have small stacks ([`STACK_SIZE`]) and retire after [`IDLE_RETIRE`] without work.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The default ceiling: far above any sane number of requests in flight in one process.
pub const DEFAULT_MAX_THREADS: usize = 10_000;
/// Stack of a worker: a request needs a few tens of KiB (TLS, JSON, a 16 KiB read buffer); the
/// default 2 MiB would reserve 20 GiB of address space at the ceiling.
pub const STACK_SIZE: usize = 256 * 1024;
/// How long a worker waits for work before it exits.
pub const IDLE_RETIRE: Duration = Duration::from_secs(15);

struct Pool {
    state: Mutex<State>,
    /// Wakes idle workers when a job arrives.
    work: Condvar,
    /// Wakes the spawner when more threads are needed.
    grow: Condvar,
    max_threads: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Threads asked for and not running yet: counted as coming by `spawn`. A worker moves
    /// itself from here to `threads` under the lock before it takes its first job, so a
    /// thread busy with a job is never also counted as coming.
    starting: usize,
    /// Of those, the ones the spawner has not created yet.
    to_create: usize,
    running: usize,
    spawner: bool,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        grow: Condvar::new(),
        max_threads: std::env::var("AIGW_MAX_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(DEFAULT_MAX_THREADS, |n| n.clamp(1, 100_000)),
    })
}

fn lock(pool: &Pool) -> MutexGuard<'_, State> {
    // Jobs run outside the lock and their panics are caught, so a poisoned lock still holds
    // consistent counters.
    pool.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The ceiling on worker threads (`AIGW_MAX_THREADS`, default [`DEFAULT_MAX_THREADS`]).
pub fn max_threads() -> usize {
    pool().max_threads
}

/// Runs `job` on a pool thread. A panic inside the job ends only that job (jobs report their
/// own failures; bindings wrap them in [`crate::error::catch_panic`]).
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    let pool = pool();
    let mut state = lock(pool);
    state.queue.push_back(Box::new(job));
    let waiting = state.queue.len();
    let coming = state.idle + state.starting;
    let wants_thread = waiting > coming && state.threads + state.starting < pool.max_threads;
    if wants_thread {
        state.starting += 1;
        state.to_create += 1;
        if !state.spawner {
            state.spawner = true;
            let started = std::thread::Builder::new()
                .name("aigw-spawner".into())
                .stack_size(STACK_SIZE)
                .spawn(move || spawner(pool));
            if started.is_err() {
                state.spawner = false;
                start_worker(pool, &mut state);
            }
        }
    }
    drop(state);
    pool.work.notify_one();
    if wants_thread {
        pool.grow.notify_one();
    }
}

/// Creates one worker asked for while the caller holds the lock (when no spawner thread could
/// start); on failure (out of threads or memory) the job waits for a running worker instead.
fn start_worker(pool: &'static Pool, state: &mut State) {
    state.to_create = state.to_create.saturating_sub(1);
    if new_worker(pool).is_err() {
        state.starting = state.starting.saturating_sub(1);
    }
}

fn new_worker(pool: &'static Pool) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("aigw-worker".into())
        .stack_size(STACK_SIZE)
        .spawn(move || worker(pool))
}

/// Creates the workers `spawn` asked for, off the caller's thread and outside the lock (a
/// creation takes tens of microseconds; `spawn` must not wait for one).
fn spawner(pool: &'static Pool) {
    let mut state = lock(pool);
    loop {
        while state.to_create > 0 {
            state.to_create -= 1;
            drop(state);
            let started = new_worker(pool);
            state = lock(pool);
            if started.is_err() {
                state.starting = state.starting.saturating_sub(1);
            }
        }
        let (next, timeout) = pool
            .grow
            .wait_timeout(state, IDLE_RETIRE)
            .unwrap_or_else(PoisonError::into_inner);
        state = next;
        if timeout.timed_out() && state.to_create == 0 {
            state.spawner = false;
            return;
        }
    }
}

fn worker(pool: &'static Pool) {
    let mut state = lock(pool);
    state.starting = state.starting.saturating_sub(1);
    state.threads += 1;
    loop {
        if let Some(job) = state.queue.pop_front() {
            state.running += 1;
            drop(state);
            let _ = catch_unwind(AssertUnwindSafe(job));
            state = lock(pool);
            state.running -= 1;
            continue;
        }
        state.idle += 1;
        let (next, timeout) = pool
            .work
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

/// The pool as `describe()` reports it under `runtime`: worker threads alive, the ceiling, and
/// calls in flight (running or waiting for a thread).
pub fn stats() -> Value {
    let pool = pool();
    let state = lock(pool);
    json!({
        "threads": state.threads,
        "max_threads": pool.max_threads,
        "in_flight": state.running + state.queue.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn jobs_run_concurrently_beyond_any_small_cap() {
        // 300 jobs that each wait for all the others: only a pool that gives every one of them
        // a thread finishes (a cap below 300 would deadlock, caught by the bounded wait).
        let n = 300;
        let barrier = Arc::new(Barrier::new(n + 1));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let (barrier, done) = (barrier.clone(), done.clone());
            spawn(move || {
                barrier.wait();
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let waiter = std::thread::spawn(move || barrier.wait());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while done.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(done.load(Ordering::SeqCst), n);
        waiter.join().unwrap();
        assert!(stats()["threads"].as_u64().unwrap() >= n as u64);
        assert_eq!(stats()["max_threads"], DEFAULT_MAX_THREADS);
    }

    #[test]
    fn a_panicking_job_does_not_take_a_worker_down() {
        let done = Arc::new(AtomicUsize::new(0));
        spawn(|| panic!("a job's bug"));
        let d = done.clone();
        spawn(move || {
            d.fetch_add(1, Ordering::SeqCst);
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while done.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
