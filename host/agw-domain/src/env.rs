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

/// The latest time the gateway computes: 9999-12-31T23:59:59Z, the last one ISO 8601 (and the
/// reference's `isoformat`) spells with a four-digit year. Later times are "never" in practice.
pub fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `time + span`, saturating at [`far_future`]: no span a user or a flow gives can overflow.
pub fn later(time: DateTime<Utc>, span: chrono::Duration) -> DateTime<Utc> {
    time.checked_add_signed(span).filter(|t| *t <= far_future()).unwrap_or_else(far_future)
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
mod tests {
    use super::*;

    #[test]
    fn later_saturates_at_the_far_future() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert_eq!(later(now, chrono::Duration::seconds(5)), now + chrono::Duration::seconds(5));
        assert_eq!(later(now, chrono::Duration::MAX), far_future());
        assert_eq!(later(now, chrono::Duration::days(100_000_000)), far_future());
        assert_eq!(iso(far_future()), "9999-12-31T23:59:59+00:00");
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
