//! Scheduled runs: a parent run that launches a target flow as child runs on an interval.
//!
//! As in the reference, the parent executes a small engine-made flow: wait for the start
//! time, launch the target as a subflow and wait for it, decide whether to repeat, wait for
//! the interval, launch again. Its parameters live in the run's [`Schedule`], so
//! `update_schedule` changes a running schedule in place.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::env::later;
use crate::flow::{CompiledFlow, FlowError};
use crate::run::FlowRef;

/// The `schedule` object of a scheduled parent run, key for key as the reference shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub kind: String,
    pub interval: Option<String>,
    pub repeat_count: Option<u64>,
    pub repeat_until: Option<String>,
    pub start_at: Option<String>,
    pub share_context: bool,
    pub target_workflow_id: String,
    pub target_bundle_ref: String,
    pub target_flow_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// Child runs launched so far.
    #[serde(default)]
    pub launched: u64,
    /// The target flow.
    pub target: FlowRef,
}

impl Schedule {
    /// Whether another launch is due after `launched` ones, deciding at `now`.
    pub fn repeats(&self, now: DateTime<Utc>) -> bool {
        let Some(interval) = self.interval.as_deref().and_then(parse_interval) else { return false };
        if self.repeat_count.is_some_and(|n| self.launched >= n) {
            return false;
        }
        match self.repeat_until.as_deref().and_then(|u| DateTime::parse_from_rfc3339(u).ok()) {
            Some(until) => later(now, interval) <= until,
            None => true,
        }
    }

    /// When the next launch is due if the sleep between launches starts at `now`.
    pub fn next_launch(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        later(now, self.interval.as_deref().and_then(parse_interval).unwrap_or_else(Duration::zero))
    }
}

/// The node where a scheduled parent sleeps between launches.
pub const SLEEP_NODE: &str = "wait_interval";

/// The longest interval between launches: 100 years.
pub const MAX_INTERVAL_DAYS: i64 = 36_500;

/// Parses `"15s"`, `"15m"`, `"1h"`, `"2d"` (and a bare number of seconds). A zero or
/// negative interval is refused: it would launch without end; so is one over
/// [`MAX_INTERVAL_DAYS`].
pub fn parse_interval(text: &str) -> Option<Duration> {
    check_interval(text).ok()
}

/// Why `text` is not a usable interval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    /// Not a positive number with an `s`, `m`, `h` or `d` unit.
    #[error("interval must look like '15s', '15m', '1h' or '2d'")]
    Malformed,
    /// Longer than [`MAX_INTERVAL_DAYS`].
    #[error("interval must be at most {MAX_INTERVAL_DAYS}d")]
    TooLong,
}

/// Like [`parse_interval`], saying why an interval is refused.
pub fn check_interval(text: &str) -> Result<Duration, IntervalError> {
    let interval = parse_any_interval(text).ok_or(IntervalError::Malformed)?;
    if interval > Duration::days(MAX_INTERVAL_DAYS) {
        return Err(IntervalError::TooLong);
    }
    Ok(interval)
}

fn parse_any_interval(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let value: f64 = number.trim().parse().ok().filter(|v: &f64| v.is_finite() && *v > 0.0)?;
    let seconds = match unit {
        's' => value,
        'm' => value * 60.0,
        'h' => value * 3600.0,
        'd' => value * 86_400.0,
        _ => return None,
    };
    let millis = (seconds * 1000.0).round();
    // `as` saturates; anything that large is refused as too long by the caller.
    Duration::try_milliseconds(millis.min(i64::MAX as f64) as i64).filter(|d| *d > Duration::zero())
}

/// The flow every scheduled parent executes. Its nodes read the run's [`Schedule`]:
/// `wait_start` waits for `start_at`, `run_target` launches the target, `repeat` decides,
/// `wait_interval` sleeps for the interval.
pub fn visual_flow() -> Value {
    let exec = |id: &str| json!({ "id": id, "label": "", "type": "execution" });
    let node = |id: &str, kind: &str, inputs: Value, outputs: Value, extra: Value| {
        let mut data = json!({ "nodeType": kind, "inputs": inputs, "outputs": outputs });
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        json!({ "id": id, "type": kind, "data": data })
    };
    let edge = |from: &str, handle: &str, to: &str| json!({ "source": from, "sourceHandle": handle, "target": to, "targetHandle": "exec-in" });
    json!({
        "id": "scheduled_run",
        "name": "Scheduled run",
        "entryNode": "start",
        "nodes": [
            node("start", "on_flow_start", json!([]), json!([exec("exec-out")]), json!({})),
            node("wait_start", "on_schedule", json!([exec("exec-in")]), json!([exec("exec-out")]),
                json!({ "schedule": "start" })),
            node("run_target", "subflow", json!([exec("exec-in")]), json!([exec("exec-out")]),
                json!({ "schedule": "target" })),
            node("repeat", "if", json!([exec("exec-in")]), json!([exec("true"), exec("false")]),
                json!({ "schedule": "repeat" })),
            node(SLEEP_NODE, "on_schedule", json!([exec("exec-in")]), json!([exec("exec-out")]),
                json!({ "schedule": "interval" })),
            node("end", "on_flow_end", json!([exec("exec-in")]), json!([]), json!({})),
        ],
        "edges": [
            edge("start", "exec-out", "wait_start"),
            edge("wait_start", "exec-out", "run_target"),
            edge("run_target", "exec-out", "repeat"),
            edge("repeat", "true", SLEEP_NODE),
            edge("repeat", "false", "end"),
            edge(SLEEP_NODE, "exec-out", "run_target"),
        ],
    })
}

/// [`visual_flow`], compiled once.
pub fn compiled_flow() -> Result<Arc<CompiledFlow>, FlowError> {
    static FLOW: OnceLock<Result<Arc<CompiledFlow>, FlowError>> = OnceLock::new();
    FLOW.get_or_init(|| CompiledFlow::compile(&visual_flow(), &|_| None).map(Arc::new)).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_like_the_reference() {
        assert_eq!(parse_interval("15s"), Some(Duration::seconds(15)));
        assert_eq!(parse_interval("15m"), Some(Duration::minutes(15)));
        assert_eq!(parse_interval("1h"), Some(Duration::hours(1)));
        assert_eq!(parse_interval("2d"), Some(Duration::days(2)));
        assert_eq!(parse_interval("0.5s"), Some(Duration::milliseconds(500)));
        assert_eq!(parse_interval("30"), Some(Duration::seconds(30)));
        for bad in ["", "s", "0s", "-1m", "5w", "abc", "NaNs"] {
            assert_eq!(check_interval(bad), Err(IntervalError::Malformed), "{bad}");
        }
        assert_eq!(parse_interval("36500d"), Some(Duration::days(36_500)));
        for long in ["36501d", "100000000d", "9223372036854775807d", "1e300s"] {
            assert_eq!(check_interval(long), Err(IntervalError::TooLong), "{long}");
        }
    }

    #[test]
    fn the_next_launch_never_overflows() {
        let now = DateTime::parse_from_rfc3339("9999-06-01T00:00:00+00:00").unwrap().to_utc();
        let mut s = schedule_with("36500d");
        assert_eq!(s.next_launch(now), crate::env::far_future());
        assert!(s.repeats(now), "no repeat_until: still repeats");
        s.repeat_until = Some("9999-12-01T00:00:00+00:00".into());
        assert!(!s.repeats(now));
    }

    #[test]
    fn the_schedule_flow_compiles_with_builtins_only() {
        let flow = compiled_flow().expect("compiles");
        assert_eq!(flow.entry, "start");
        assert_eq!(flow.next("repeat", "true").map(|n| n.id.as_str()), Some("wait_interval"));
    }

    #[test]
    fn repeat_count_and_repeat_until_end_a_schedule() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut s = schedule_with("10s");
        s.repeat_count = Some(2);
        s.launched = 1;
        assert!(s.repeats(now));
        s.launched = 2;
        assert!(!s.repeats(now));
        s.repeat_count = None;
        s.repeat_until = Some(crate::env::iso(now + Duration::seconds(5)));
        assert!(!s.repeats(now), "the next launch would fall after repeat_until");
        s.repeat_until = Some(crate::env::iso(now + Duration::seconds(60)));
        assert!(s.repeats(now));
        s.interval = None;
        assert!(!s.repeats(now), "no interval means once");
    }

    fn schedule_with(interval: &str) -> Schedule {
        Schedule {
            kind: "scheduled_run".into(),
            interval: Some(interval.into()),
            repeat_count: None,
            repeat_until: None,
            start_at: None,
            share_context: true,
            target_workflow_id: "b@1:f".into(),
            target_bundle_ref: "b@1".into(),
            target_flow_id: "f".into(),
            created_at: String::new(),
            updated_at: None,
            launched: 0,
            target: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
        }
    }
}
