//! Submitting a durable command: checked at the door, then appended to the inbox (fsynced),
//! then the runner is told.

use agw_domain::command::{Accepted, Command, CommandKind, NewCommand};
use agw_domain::run::RunState;
use agw_domain::schedule::{IntervalError, check_interval};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, AppResult};

/// `POST /commands`.
#[derive(Debug, Clone)]
pub struct SubmitCommand {
    /// The client's idempotency key; never empty (an empty one would make every later
    /// empty one a duplicate, silently dropped).
    pub command_id: String,
    /// The target run (or, for `emit_event`, the session).
    pub run_id: String,
    pub kind: CommandKind,
    pub payload: Map<String, Value>,
    /// When the client sent it; `None`: now.
    pub ts: Option<String>,
    pub client_id: Option<String>,
}

impl App {
    /// Appends `command` to the inbox unless it could only be dropped; a repeated
    /// `command_id` is answered as a duplicate and not appended again.
    pub fn submit(&self, command: SubmitCommand) -> AppResult<Accepted> {
        let run = if command.kind.targets_a_run() {
            Some(self.store.load_run(&command.run_id)?.ok_or_else(|| AppError::RunNotFound(command.run_id.clone()))?)
        } else {
            None
        };
        refuse_what_cannot_apply(&command, run.as_ref())?;
        let accepted = self.store.append_command(NewCommand {
            command_id: command.command_id,
            run_id: command.run_id,
            kind: command.kind.as_str().to_owned(),
            payload: Value::Object(command.payload),
            ts: command.ts.unwrap_or_else(|| self.env.now_iso()),
            client_id: command.client_id,
        })?;
        self.wake.inbox();
        Ok(accepted)
    }
}

/// Refuses at the door a command the runner could only drop: an event without a name or
/// with a key field of another type, a schedule update without a valid interval or for a run
/// that is not a schedule.
fn refuse_what_cannot_apply(command: &SubmitCommand, run: Option<&RunState>) -> AppResult<()> {
    let payload = &command.payload;
    let text = |key: &str| payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    match command.kind {
        CommandKind::EmitEvent => {
            // The event's key is made of these: one of another type must not fall back to a
            // default (a numeric `scope` would be delivered to the session).
            for key in ["name", "scope", "session_id", "sessionId", "workflow_id", "workflowId", "run_id", "runId"] {
                if let Some(other) = payload.get(key).filter(|v| !v.is_string() && !v.is_null()) {
                    return Err(AppError::field(
                        "string_type",
                        &["payload", key],
                        "Input should be a valid string",
                        other.clone(),
                    ));
                }
            }
            if text("name").is_none() {
                return Err(AppError::field("missing", &["payload", "name"], "Field required", payload.clone().into()));
            }
            let probe = Command {
                seq: 0,
                command_id: String::new(),
                run_id: command.run_id.clone(),
                kind: command.kind.as_str().to_owned(),
                payload: Value::Object(payload.clone()),
                ts: String::new(),
                client_id: None,
            };
            probe.event().map(|_| ()).map_err(|e| AppError::Unprocessable(e.to_string()))
        }
        CommandKind::UpdateSchedule => {
            if let Some(run) = run.filter(|r| r.schedule.is_none()) {
                return Err(AppError::Unprocessable(format!("Run '{}' is not a scheduled run", run.run_id)));
            }
            let problem = match text("interval").map(check_interval) {
                Some(Ok(_)) => return Ok(()),
                Some(Err(problem)) => problem,
                None => IntervalError::Malformed,
            };
            Err(AppError::value_error(
                &["payload", "interval"],
                &problem.to_string(),
                payload.get("interval").cloned().unwrap_or(Value::Null),
            ))
        }
        _ => Ok(()),
    }
}
