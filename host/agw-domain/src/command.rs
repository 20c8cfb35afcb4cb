//! Durable commands sent to runs through the inbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Command types the gateway knows, in the order the reference lists them in its 400 answer.
pub const KNOWN_TYPES: &[&str] = &[
    "pause",
    "resume",
    "cancel",
    "conclude",
    "emit_event",
    "update_schedule",
    "compact_memory",
    "inject_guidance",
    "automation.revise",
    "automation.pause",
    "automation.resume",
    "automation.run_now",
    "automation.stop_current",
    "automation.archive",
    "automation.unarchive",
];

/// One accepted command, as stored in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub seq: u64,
    pub command_id: String,
    pub run_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Value,
    pub ts: String,
    pub client_id: Option<String>,
}

/// A command as submitted, before the inbox assigns its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCommand {
    pub command_id: String,
    pub run_id: String,
    pub kind: String,
    pub payload: Value,
    pub ts: String,
    pub client_id: Option<String>,
}

impl NewCommand {
    pub fn with_seq(self, seq: u64) -> Command {
        Command {
            seq,
            command_id: self.command_id,
            run_id: self.run_id,
            kind: self.kind,
            payload: self.payload,
            ts: self.ts,
            client_id: self.client_id,
        }
    }
}

/// What the inbox answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub seq: u64,
    pub duplicate: bool,
}

/// What applying a command did to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// Nothing to do, and why (already paused, run finished...).
    Ignored(String),
}

/// Applies `pause`, `resume` or `cancel` to a run. Each command applies at most once: the
/// run remembers the last sequence number it saw, so a replayed inbox is harmless.
pub fn apply(run: &mut crate::run::RunState, command: &Command, env: &dyn crate::Env) -> Applied {
    use crate::run::{RunStatus, Wait};

    if command.seq != 0 && command.seq <= run.last_command_seq {
        return Applied::Ignored(format!("command {} already applied", command.seq));
    }
    if command.seq != 0 {
        run.last_command_seq = command.seq;
    }
    if run.status.is_terminal() {
        return Applied::Ignored(format!("run is {}", run.status.as_str()));
    }
    let reason = command.payload.get("reason").and_then(Value::as_str).map(str::to_owned);
    let now = env.now_iso();
    match command.kind.as_str() {
        "pause" => {
            if run.paused {
                return Applied::Ignored("already paused".into());
            }
            match run.status {
                RunStatus::Running => {
                    run.status = RunStatus::Waiting;
                    run.waiting = Some(Wait::pause(&run.run_id));
                }
                // A question to the user already stops the run; pausing adds nothing.
                RunStatus::Waiting if run.waiting.as_ref().is_some_and(|w| w.reason == "user") => {
                    return Applied::Ignored("run waits for the user".into());
                }
                _ => {}
            }
            run.paused = true;
            run.pause_reason = reason;
            run.paused_at = Some(now.clone());
        }
        "resume" => {
            if !run.paused {
                return Applied::Ignored("not paused".into());
            }
            if run.waiting.as_ref().is_some_and(Wait::is_pause) {
                run.status = RunStatus::Running;
                run.waiting = None;
            }
            run.paused = false;
            run.pause_reason = None;
            run.resumed_at = Some(now.clone());
        }
        "cancel" => {
            let node = run.current_node.clone().unwrap_or_default();
            let ctx =
                crate::record::RecordCtx { run_id: &run.run_id, actor_id: &run.actor_id, session_id: &run.session_id };
            let record = ctx.terminal_status(env.new_id(), &node, "cancelled", &now);
            run.outbox.push(record);
            run.status = RunStatus::Cancelled;
            run.error = Some(reason.unwrap_or_else(|| "Cancelled".into()));
            run.waiting = None;
            run.paused = false;
            run.pause_reason = None;
            run.exec.cursor = None;
        }
        other => return Applied::Ignored(format!("'{other}' is not handled yet")),
    }
    run.updated_at = now;
    Applied::Changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::fake::FakeEnv;
    use crate::run::{FlowRef, NewRun, RunState, RunStatus};
    use serde_json::json;

    fn run() -> RunState {
        RunState::new(NewRun {
            run_id: "r1".into(),
            flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
            input_data: Default::default(),
            session_id: None,
            parent_run_id: None,
            workspace_root: String::new(),
            entry_node: "start".into(),
            now: String::new(),
        })
    }

    fn cmd(seq: u64, kind: &str, payload: Value) -> Command {
        Command {
            seq,
            command_id: format!("c{seq}"),
            run_id: "r1".into(),
            kind: kind.into(),
            payload,
            ts: String::new(),
            client_id: None,
        }
    }

    #[test]
    fn pause_puts_a_synthetic_user_wait_and_resume_lifts_it() {
        let env = FakeEnv::default();
        let mut run = run();
        assert_eq!(apply(&mut run, &cmd(1, "pause", json!({"reason": "operator_pause"})), &env), Applied::Changed);
        assert_eq!(run.status, RunStatus::Waiting);
        assert!(run.paused);
        assert_eq!(run.pause_reason.as_deref(), Some("operator_pause"));
        let wait = run.waiting.clone().expect("wait");
        assert_eq!(
            (wait.reason.as_str(), wait.wait_key.as_str(), wait.prompt.as_deref()),
            ("user", "pause:r1", Some("Paused"))
        );
        assert!(!run.is_runnable());
        assert_eq!(apply(&mut run, &cmd(2, "resume", json!({})), &env), Applied::Changed);
        assert_eq!(run.status, RunStatus::Running);
        assert!(!run.paused && run.waiting.is_none() && run.resumed_at.is_some() && run.paused_at.is_some());
    }

    #[test]
    fn cancel_is_terminal_and_journaled() {
        let env = FakeEnv::default();
        let mut run = run();
        apply(&mut run, &cmd(1, "cancel", json!({"reason": "stop"})), &env);
        assert_eq!(run.status, RunStatus::Cancelled);
        assert_eq!(run.error.as_deref(), Some("stop"));
        assert_eq!(run.outbox.len(), 1);
        assert_eq!(run.outbox[0].idempotency_key.as_deref(), Some("system:terminal_status:cancelled"));
        assert!(matches!(apply(&mut run, &cmd(2, "resume", json!({})), &env), Applied::Ignored(_)));
    }

    #[test]
    fn a_replayed_command_applies_once() {
        let env = FakeEnv::default();
        let mut run = run();
        apply(&mut run, &cmd(5, "pause", json!({})), &env);
        apply(&mut run, &cmd(6, "resume", json!({})), &env);
        assert!(matches!(apply(&mut run, &cmd(5, "pause", json!({})), &env), Applied::Ignored(_)));
        assert!(!run.paused);
    }
}
