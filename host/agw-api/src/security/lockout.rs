//! The per-IP lockout after repeated invalid credentials (`LOCKOUT_AFTER`, `LOCKOUT_BASE_S`,
//! `LOCKOUT_MAX_S`).
//!
//! Only a presented-and-invalid credential counts; a request without one is a login prompt.
//! The caller checks the credential first, so a valid one always passes and clears the count
//! (a locked IP never refuses the very token that would unlock it). Quiet IPs are forgotten
//! after [`DECAY`], and the table holds at most [`MAX_ENTRIES`] IPs, so a flood of addresses
//! cannot grow it without limit.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A quiet window after which an IP's failures stop counting.
const DECAY: Duration = Duration::from_secs(900);
/// The most IPs tracked at once.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

impl Entry {
    fn stale(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_failure) > DECAY && self.locked_until.is_none_or(|u| u <= now)
    }
}

pub(super) struct Lockout {
    after: u32,
    base: Duration,
    max: Duration,
    max_entries: usize,
    ips: Mutex<HashMap<String, Entry>>,
}

impl Lockout {
    pub fn new(after: u32, base: Duration, max: Duration) -> Self {
        Self::with_capacity(after, base, max, MAX_ENTRIES)
    }

    fn with_capacity(after: u32, base: Duration, max: Duration, max_entries: usize) -> Self {
        Self { after: after.max(1), base, max, max_entries: max_entries.max(1), ips: Mutex::default() }
    }

    /// Counts an invalid credential from `ip`. Returns the seconds the client must wait
    /// (`retry-after`) when `ip` is locked out, `None` while it may still try.
    pub fn fail(&self, ip: &str, now: Instant) -> Option<u64> {
        let mut ips = self.ips.lock().unwrap_or_else(PoisonError::into_inner);
        let current = ips.get(ip).copied().filter(|e| !e.stale(now));
        if current.is_none() && ips.len() >= self.max_entries {
            evict(&mut ips, now, self.max_entries);
        }
        let failures = current.map_or(0, |e| e.failures).saturating_add(1);
        let still_locked = current.and_then(|e| e.locked_until).map(|u| u.saturating_duration_since(now));
        let lock = (failures >= self.after).then(|| self.backoff(failures - self.after));
        ips.insert(
            ip.to_owned(),
            Entry {
                failures,
                locked_until: lock.map(|d| now + d).or(current.and_then(|e| e.locked_until)),
                last_failure: now,
            },
        );
        let wait = still_locked.max(lock).unwrap_or_default();
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        (seconds > 0).then_some(seconds)
    }

    /// A valid credential from `ip`: its failures are forgotten.
    pub fn clear(&self, ip: &str) {
        self.ips.lock().unwrap_or_else(PoisonError::into_inner).remove(ip);
    }

    /// `base × 2^k`, capped at `max` (no cap when `max` is zero).
    fn backoff(&self, k: u32) -> Duration {
        let lock = self.base.saturating_mul(1u32 << k.min(31));
        if self.max.is_zero() { lock } else { lock.min(self.max) }
    }
}

/// Makes room: drops stale entries, then the tenth of the table that failed longest ago.
fn evict(ips: &mut HashMap<String, Entry>, now: Instant, max_entries: usize) {
    ips.retain(|_, e| !e.stale(now));
    if ips.len() < max_entries {
        return;
    }
    let mut ages: Vec<Instant> = ips.values().map(|e| e.last_failure).collect();
    let drop = (max_entries / 10).max(1).min(ages.len() - 1);
    let (_, cutoff, _) = ages.select_nth_unstable(drop);
    let cutoff = *cutoff;
    ips.retain(|_, e| e.last_failure > cutoff);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout::new(10, Duration::from_secs(1), Duration::from_secs(60))
    }

    #[test]
    fn the_tenth_failure_locks_for_one_second_then_backs_off() {
        // file/58-61: failures 1-9 get 401, the 10th `retry-after: 1`, the 11th `2`.
        let l = lockout();
        let t = Instant::now();
        for i in 0..9 {
            assert_eq!(l.fail("1.2.3.4", t + Duration::from_millis(i)), None);
        }
        assert_eq!(l.fail("1.2.3.4", t + Duration::from_millis(9)), Some(1));
        assert_eq!(l.fail("1.2.3.4", t + Duration::from_millis(10)), Some(2));
        assert_eq!(l.fail("1.2.3.4", t + Duration::from_millis(11)), Some(4));
        assert_eq!(l.fail("5.6.7.8", t), None, "other IPs are not affected");
        l.clear("1.2.3.4");
        assert_eq!(l.fail("1.2.3.4", t + Duration::from_millis(12)), None, "a valid token clears the count");
    }

    #[test]
    fn backoff_is_capped_and_failures_decay() {
        let l = lockout();
        let t = Instant::now();
        let mut last = None;
        for i in 0..40 {
            last = l.fail("ip", t + Duration::from_millis(i));
        }
        assert_eq!(last, Some(60));
        let later = t + DECAY + Duration::from_secs(120);
        assert_eq!(l.fail("ip", later), None, "a quiet window resets the ratchet");
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = Lockout::with_capacity(10, Duration::from_secs(1), Duration::from_secs(60), 100);
        let t = Instant::now();
        for i in 0..10_000u32 {
            l.fail(&format!("10.0.{}.{}", i / 256, i % 256), t + Duration::from_micros(u64::from(i)));
        }
        let size = l.ips.lock().map(|m| m.len()).unwrap_or_default();
        assert!(size <= 100, "{size}");
        // The newest IP survived eviction and keeps counting.
        let newest = "10.0.39.15";
        for _ in 0..8 {
            l.fail(newest, t + Duration::from_secs(1));
        }
        assert_eq!(l.fail(newest, t + Duration::from_secs(1)), Some(1));
    }
}
