//! Durable commands sent to runs through the inbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The command types the gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Pause,
    Resume,
    Cancel,
    Conclude,
    EmitEvent,
    UpdateSchedule,
    CompactMemory,
    InjectGuidance,
    AutomationRevise,
    AutomationPause,
    AutomationResume,
    AutomationRunNow,
    AutomationStopCurrent,
    AutomationArchive,
    AutomationUnarchive,
}

impl CommandKind {
    /// Every kind, in the order the reference lists them in its 400 answer.
    pub const ALL: [Self; 15] = [
        Self::Pause,
        Self::Resume,
        Self::Cancel,
        Self::Conclude,
        Self::EmitEvent,
        Self::UpdateSchedule,
        Self::CompactMemory,
        Self::InjectGuidance,
        Self::AutomationRevise,
        Self::AutomationPause,
        Self::AutomationResume,
        Self::AutomationRunNow,
        Self::AutomationStopCurrent,
        Self::AutomationArchive,
        Self::AutomationUnarchive,
    ];

    /// The name on the wire and in the inbox.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::Conclude => "conclude",
            Self::EmitEvent => "emit_event",
            Self::UpdateSchedule => "update_schedule",
            Self::CompactMemory => "compact_memory",
            Self::InjectGuidance => "inject_guidance",
            Self::AutomationRevise => "automation.revise",
            Self::AutomationPause => "automation.pause",
            Self::AutomationResume => "automation.resume",
            Self::AutomationRunNow => "automation.run_now",
            Self::AutomationStopCurrent => "automation.stop_current",
            Self::AutomationArchive => "automation.archive",
            Self::AutomationUnarchive => "automation.unarchive",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The names joined with `|`, as the reference's refusal of an unknown type lists them.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join("|")
    }

    /// Whether the command acts on one run, which must exist when it is submitted (an
    /// `emit_event` names a session or scope instead).
    pub fn targets_a_run(self) -> bool {
        matches!(self, Self::Pause | Self::Resume | Self::Cancel | Self::UpdateSchedule)
    }
}

impl std::fmt::Display for CommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The wait key an event wakes: `evt:<scope>:<scope id>:<name>`.
pub fn event_key(scope: &str, scope_id: &str, name: &str) -> String {
    format!("evt:{scope}:{scope_id}:{name}")
}

/// An `emit_event` command, resolved: the key it wakes and the envelope waiting runs get.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub wait_key: String,
    /// `evt:<scope>:<id>:*`, the key of listeners for any event of the scope. Only events
    /// emitted by flows reach them, as in the reference.
    pub wildcard_key: Option<String>,
    pub envelope: Value,
}

/// Why an `emit_event` command cannot be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event name is required")]
    NoName,
    #[error("unknown event scope: '{0}'")]
    UnknownScope(String),
    #[error("missing scope id for scope='{0}'")]
    NoScopeId(String),
}

impl Event {
    /// Whether a run waiting on `wait` hears this event.
    pub fn wakes(&self, wait: &crate::run::Wait) -> bool {
        let key = wait.wait_key.as_deref();
        key == Some(self.wait_key.as_str()) || (key.is_some() && key == self.wildcard_key.as_deref())
    }
}

impl Command {
    /// The command's kind, when the gateway knows it (the inbox keeps any name it was given).
    pub fn kind(&self) -> Option<CommandKind> {
        CommandKind::parse(&self.kind)
    }

    /// The event an `emit_event` command carries. The session scope's id defaults to the
    /// command's `run_id`, as in the reference; the workflow and run scopes need
    /// `workflow_id` / `run_id` in the payload.
    pub fn event(&self) -> Result<Event, EventError> {
        let payload = &self.payload;
        let text =
            |keys: &[&str]| keys.iter().find_map(|k| payload.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()));
        let name = text(&["name"]).ok_or(EventError::NoName)?;
        let scope = text(&["scope"]).unwrap_or("session").to_lowercase();
        let session_id = text(&["session_id", "sessionId"]).unwrap_or(&self.run_id);
        let scope_id = match scope.as_str() {
            "session" => Some(session_id),
            "workflow" => text(&["workflow_id", "workflowId"]),
            "run" => text(&["run_id", "runId"]),
            "global" => Some("global"),
            other => return Err(EventError::UnknownScope(other.to_owned())),
        };
        let scope_id = scope_id.ok_or_else(|| EventError::NoScopeId(scope.clone()))?;
        let from_flow = matches!(payload.get("emitter"), Some(Value::Object(_)));
        let emitter = match payload.get("emitter") {
            Some(Value::Object(emitter)) => Value::Object(emitter.clone()),
            _ => serde_json::json!({ "source": "external", "client_id": self.client_id }),
        };
        let body = match payload.get("payload") {
            Some(Value::Object(map)) => Value::Object(map.clone()),
            other => serde_json::json!({ "value": other.cloned().unwrap_or(Value::Null) }),
        };
        let first = |keys: &[&str]| keys.iter().find_map(|k| payload.get(*k).cloned()).unwrap_or(Value::Null);
        let envelope = serde_json::json!({
            "event_id": first(&["event_id", "eventId"]),
            "name": name,
            "scope": scope,
            "session_id": session_id,
            "payload": body,
            "emitted_at": first(&["emitted_at", "emittedAt"]),
            "emitter": emitter,
        });
        Ok(Event {
            wait_key: event_key(&scope, scope_id, name),
            wildcard_key: from_flow.then(|| event_key(&scope, scope_id, "*")),
            envelope,
        })
    }
}

/// Applies a command addressed to `run`. Each command applies at most once: the run
/// remembers the last sequence number it saw, so a replayed inbox is harmless. An
/// `emit_event` is applied to each run waiting on its key, not to its `run_id`.
pub fn apply(run: &mut crate::run::RunState, command: &Command, env: &dyn crate::Env) -> Applied {
    use crate::run::{RunStatus, Wait, WaitReason};

    if command.seq != 0 && command.seq <= run.last_command_seq {
        return Applied::Ignored(format!("command {} already applied", command.seq));
    }
    if command.seq != 0 {
        run.last_command_seq = command.seq;
    }
    if run.status.is_terminal() {
        return Applied::Ignored(format!("run is {}", run.status.as_str()));
    }
    let text = |key: &str| command.payload.get(key).and_then(Value::as_str).map(str::to_owned);
    let now = env.now_iso();
    match CommandKind::parse(&command.kind) {
        Some(CommandKind::Pause) => {
            if run.paused {
                return Applied::Ignored("already paused".into());
            }
            match run.status {
                RunStatus::Running => {
                    run.status = RunStatus::Waiting;
                    run.waiting = Some(Wait::pause(&run.run_id));
                }
                // A question to the user already stops the run; pausing adds nothing.
                RunStatus::Waiting if run.waiting.as_ref().is_some_and(|w| w.reason == WaitReason::User) => {
                    return Applied::Ignored("run waits for the user".into());
                }
                _ => {}
            }
            run.paused = true;
            run.pause_reason = text("reason");
            run.paused_at = Some(now.clone());
            run.send_to_children("pause", &command.command_id, command.payload.clone(), &now);
        }
        // With `payload.payload`: deliver it to the run's wait. Without: unpause the tree.
        Some(CommandKind::Resume) => match command.payload.get("payload") {
            Some(payload) => {
                let key = text("wait_key");
                let matches = |w: &Wait| !w.is_pause() && key.as_ref().is_none_or(|k| w.wait_key.as_ref() == Some(k));
                if !run.waiting.as_ref().is_some_and(matches) {
                    return Applied::Ignored("no matching wait".into());
                }
                if !run.resume_wait(payload.clone(), env) {
                    return Applied::Ignored("the wait cannot be resumed".into());
                }
            }
            None => {
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
                run.send_to_children("resume", &command.command_id, serde_json::json!({}), &now);
            }
        },
        Some(CommandKind::EmitEvent) => {
            let event = match command.event() {
                Ok(event) => event,
                Err(e) => return Applied::Ignored(e.to_string()),
            };
            let listening = run.waiting.as_ref().is_some_and(|w| event.wakes(w));
            if !listening || run.paused {
                return Applied::Ignored("not waiting on this event".into());
            }
            if !run.resume_wait(event.envelope, env) {
                return Applied::Ignored("the wait cannot be resumed".into());
            }
        }
        Some(CommandKind::Cancel) => run.cancel(env, text("reason")),
        Some(CommandKind::UpdateSchedule) => {
            let Some(schedule) = run.schedule.as_mut() else { return Applied::Ignored("not a scheduled run".into()) };
            let Some(interval) = text("interval").filter(|i| crate::schedule::parse_interval(i).is_some()) else {
                return Applied::Ignored("no valid interval".into());
            };
            schedule.interval = Some(interval);
            schedule.updated_at = Some(now.clone());
            // Re-arm the sleep between launches with the new interval.
            let next = schedule.next_launch(env.now());
            let sleeping = run.exec.wait_step.as_ref().is_some_and(|w| w.node_id == crate::schedule::SLEEP_NODE);
            if let (true, Some(wait)) = (sleeping, run.waiting.as_mut()) {
                wait.until = Some(crate::env::iso(next));
            }
        }
        Some(CommandKind::CompactMemory) => return Applied::Ignored("runs keep no memory to compact yet".into()),
        _ => return Applied::Ignored(format!("'{}' is not handled", command.kind)),
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
            (wait.reason.as_str(), wait.wait_key.as_deref(), wait.prompt.as_deref()),
            ("user", Some("pause:r1"), Some("Paused"))
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
