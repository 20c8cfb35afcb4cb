//! The runner: applies inbox commands and ticks running runs, one data dir at a time.
//!
//! Commands and ticks of one run are serialized by a per-run lock and always start from the
//! stored state, so a `pause` that arrives while a tick executes is applied right after that
//! tick, never overwritten by it (the reference loses such pauses).

mod lock;
mod locks;
mod queue;
mod runner;

pub use lock::{LockError, RunnerLock};
pub use runner::{Runner, RunnerConfig, RunnerHandle, RunnerStatus};

impl agw_app::Wake for RunnerHandle {
    fn inbox(&self) {
        self.wake();
    }

    fn run(&self, run_id: &str) {
        self.wake_run(run_id);
    }
}

#[cfg(test)]
mod tests;
