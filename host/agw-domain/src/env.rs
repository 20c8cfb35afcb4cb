//! Time and id generation, injected so tests can fake them.

use chrono::{DateTime, SecondsFormat, Utc};

/// Where the domain gets the current time and fresh ids.
pub trait Env: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn new_id(&self) -> String;

    /// The current time as the reference formats it: `2026-11-21T05:32:40.385036+00:00`.
    fn now_iso(&self) -> String {
        iso(self.now())
    }
}

/// Formats a time the way the reference (Python's `isoformat`) does: microseconds unless
/// they are zero, and a `+00:00` offset.
pub fn iso(time: DateTime<Utc>) -> String {
    let format = if time.timestamp_subsec_micros() == 0 { SecondsFormat::Secs } else { SecondsFormat::Micros };
    time.to_rfc3339_opts(format, false)
}

/// The real clock and random UUIDv4 ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEnv;

impl Env for SystemEnv {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A frozen clock and counting ids, for deterministic tests.
    #[derive(Debug, Default)]
    pub struct FakeEnv {
        counter: AtomicU64,
    }

    impl Env for FakeEnv {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
        }
        fn new_id(&self) -> String {
            format!("id-{}", self.counter.fetch_add(1, Ordering::Relaxed))
        }
    }

    #[test]
    fn iso_matches_reference_format() {
        let t = DateTime::from_timestamp(1_800_000_000, 385_036_000).unwrap_or_default();
        assert_eq!(iso(t), "2027-01-15T08:00:00.385036+00:00");
    }
}
