//! Per-run mutual exclusion between command application and ticking.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

#[derive(Debug, Default)]
pub(crate) struct RunLocks {
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl RunLocks {
    /// The lock for one run; hold the returned mutex's guard while touching the run.
    pub(crate) fn get(&self, run_id: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.entry(run_id.to_owned()).or_default().clone()
    }

    /// Forgets a finished run's lock.
    pub(crate) fn forget(&self, run_id: &str) {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.remove(run_id);
    }
}

pub(crate) fn hold(lock: &Mutex<()>) -> MutexGuard<'_, ()> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The guard, or `None` while someone else holds the lock.
pub(crate) fn try_hold(lock: &Mutex<()>) -> Option<MutexGuard<'_, ()>> {
    match lock.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}
