//! Driving one async call into a plugin to its end or its deadline, from a plain thread.
//!
//! A plugin call is a wasmtime future. Two things bound it: the epoch deadline interrupts the
//! guest's own code, and [`bounded`] drops the future when the deadline passes while the guest
//! is blocked in a host wait (a sleep, a poll on a pollable), where no epoch check runs. Both
//! count the same guest time: wall time since the call was armed, less the time the host spent
//! waiting on a granted HTTP request (which its own timeout bounds).

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::net::NetPolicy;

/// The error a call ends with when its deadline passes during a host wait.
#[derive(Debug, thiserror::Error)]
#[error("the deadline passed while the plugin was blocked in a host call")]
pub(crate) struct BlockedPastDeadline;

/// What a call's guest time is measured from; a cheap copy of the store's clock that the
/// watchdog can read while the call holds the store.
#[derive(Clone)]
pub(crate) struct GuestClock {
    pub(crate) armed_at: Instant,
    pub(crate) wait_at_arm: Duration,
    pub(crate) net: NetPolicy,
    pub(crate) deadline: Duration,
}

impl GuestClock {
    /// Guest time used since the call was armed.
    pub(crate) fn used(&self) -> Duration {
        let waited = self.net.host_wait().saturating_sub(self.wait_at_arm);
        self.armed_at.elapsed().saturating_sub(waited)
    }

    /// Guest time left before the deadline.
    pub(crate) fn left(&self) -> Duration {
        self.deadline.saturating_sub(self.used())
    }

    /// Resolves once the deadline has passed (HTTP waits push it back as they happen).
    async fn expired(&self) {
        loop {
            let left = self.left();
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left).await;
        }
    }
}

/// Runs `call` on this thread until it finishes or `clock` runs out, whichever is first.
pub(crate) fn bounded<T>(clock: &GuestClock, call: impl Future<Output = wasmtime::Result<T>>) -> wasmtime::Result<T> {
    block_on(async {
        tokio::select! {
            biased;
            answer = call => answer,
            () = clock.expired() => Err(wasmtime::Error::new(BlockedPastDeadline)),
        }
    })?
}

/// Polls `future` to completion on the calling thread, inside the plugin runtime's context
/// (its timers and sockets serve WASI and `wasi:http`). Works from any thread, inside a tokio
/// runtime or not; the thread is blocked meanwhile, as a synchronous call would block it.
fn block_on<F: Future>(future: F) -> wasmtime::Result<F::Output> {
    let runtime = io_runtime()?;
    let _context = runtime.enter();
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Ok(output);
        }
        // A wake between the poll and here leaves the token set, so this returns at once.
        std::thread::park();
    }
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The process's runtime for plugin I/O (timers, HTTP connections), started on first use and
/// never dropped (dropping a runtime from async code panics).
fn io_runtime() -> wasmtime::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("agw-plugin-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| wasmtime::Error::msg(format!("cannot start the plugin I/O runtime: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn block_on_drives_timers_from_a_plain_thread_and_from_inside_a_runtime() {
        let slept = block_on(async {
            let started = Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            started.elapsed()
        })
        .unwrap();
        assert!(slept >= Duration::from_millis(20));
        let outer = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let answer = outer.block_on(async { block_on(async { 7 }).unwrap() });
        assert_eq!(answer, 7);
    }
}
