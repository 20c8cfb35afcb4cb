//! Durable run state: what a run is, where it is, and what it waits for.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::command::NewCommand;
use crate::flow::ExecState;
use crate::record::{RecordCtx, StepRecord};
use crate::schedule::Schedule;

/// Lifecycle status, lowercase on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Waiting,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "running" => Self::Running,
            "waiting" => Self::Waiting,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// Why a run waits, as the reference names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitReason {
    /// An event (`emit_event`, or one a flow emits), keyed `evt:<scope>:<id>:<name>`.
    Event,
    /// A person: a question, or the synthetic wait of `pause`.
    User,
    /// A time (`wait_until`, a schedule's next launch).
    Until,
    /// A child run (a subflow).
    Subworkflow,
}

impl WaitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::User => "user",
            Self::Until => "until",
            Self::Subworkflow => "subworkflow",
        }
    }
}

/// What a waiting run waits for, in the reference's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub reason: WaitReason,
    pub wait_key: Option<String>,
    pub until: Option<String>,
    pub prompt: Option<String>,
    pub choices: Option<Value>,
    pub allow_free_text: bool,
    pub details: Option<Value>,
}

impl Wait {
    /// A wait for the event keyed `wait_key`; the base the other waits are built from.
    pub fn event(wait_key: String) -> Self {
        Self {
            reason: WaitReason::Event,
            wait_key: Some(wait_key),
            until: None,
            prompt: None,
            choices: None,
            allow_free_text: true,
            details: None,
        }
    }

    /// The synthetic user wait that `pause` puts on a running run.
    pub fn pause(run_id: &str) -> Self {
        Self {
            reason: WaitReason::User,
            wait_key: Some(format!("pause:{run_id}")),
            until: None,
            prompt: Some("Paused".into()),
            choices: None,
            allow_free_text: false,
            details: Some(serde_json::json!({ "kind": "pause" })),
        }
    }

    pub fn is_pause(&self) -> bool {
        self.reason == WaitReason::User && self.wait_key.as_deref().is_some_and(|k| k.starts_with("pause:"))
    }

    /// The child run a `subworkflow` wait waits on.
    pub fn child_run_id(&self) -> Option<&str> {
        (self.reason == WaitReason::Subworkflow)
            .then(|| self.wait_key.as_deref()?.strip_prefix("subworkflow:"))
            .flatten()
    }

    /// Whether an `until` wait's time has come at `now`.
    pub fn is_due(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.reason == WaitReason::Until
            && self
                .until
                .as_deref()
                .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok())
                .is_none_or(|until| until <= now)
    }
}

/// Which flow a run executes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRef {
    pub bundle_id: String,
    pub bundle_version: String,
    pub flow_id: String,
}

impl FlowRef {
    /// `bundle@version:flow`, the reference's workflow id.
    pub fn workflow_id(&self) -> String {
        format!("{}@{}:{}", self.bundle_id, self.bundle_version, self.flow_id)
    }
}

/// The durable state of one run. Checkpointed after every tick and every command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    pub workflow_id: String,
    pub flow: FlowRef,
    pub status: RunStatus,
    pub current_node: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub actor_id: String,
    pub session_id: String,
    pub parent_run_id: Option<String>,
    pub error: Option<String>,
    pub paused: bool,
    pub pause_reason: Option<String>,
    pub paused_at: Option<String>,
    pub resumed_at: Option<String>,
    pub waiting: Option<Wait>,
    pub input_data: Map<String, Value>,
    pub output: Option<Value>,
    pub workspace_root: String,
    /// The interpreter's private state (variables, loop frames, next node).
    pub exec: ExecState,
    /// Highest command sequence number applied to this run, so a replayed inbox applies each
    /// command exactly once.
    #[serde(default)]
    pub last_command_seq: u64,
    /// Ledger outbox: records this checkpoint commits to, appended after the state is saved.
    /// `ledger_base` is the ledger length they start at. Recovery appends whatever part of
    /// the outbox the ledger does not yet hold, so a crash never loses or duplicates a record.
    #[serde(default)]
    pub ledger_base: u64,
    #[serde(default)]
    pub outbox: Vec<StepRecord>,
    /// Commands this checkpoint sends to other runs (an event, a child's result, a cascaded
    /// cancel). Like the outbox, they are sent after the state is saved and re-sent on
    /// recovery; the inbox drops a `command_id` it already holds, so each lands once.
    #[serde(default)]
    pub sends: Vec<NewCommand>,
    /// Child runs this checkpoint starts; created after the state is saved, and on recovery
    /// if missing.
    #[serde(default)]
    pub spawns: Vec<Spawn>,
    /// Present on a scheduled parent run.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Every child run this run started, so commands for the tree reach them all.
    #[serde(default)]
    pub children: Vec<String>,
}

/// A child run to create: a subflow call or a scheduled launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spawn {
    pub run_id: String,
    pub flow: FlowRef,
    pub input_data: Map<String, Value>,
    pub session_id: String,
    /// Where the child starts, when not at its flow's entry (an event listener's node).
    #[serde(default)]
    pub entry_node: Option<String>,
    /// The child's workflow id, when not its flow's (`visual_event_listener_...`).
    #[serde(default)]
    pub workflow_id: Option<String>,
}

/// Everything needed to create a run.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    pub flow: FlowRef,
    pub input_data: Map<String, Value>,
    pub session_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub workspace_root: String,
    pub entry_node: String,
    pub now: String,
}

impl RunState {
    pub fn new(new: NewRun) -> Self {
        Self {
            workflow_id: new.flow.workflow_id(),
            session_id: new.session_id.unwrap_or_else(|| new.run_id.clone()),
            run_id: new.run_id,
            flow: new.flow,
            status: RunStatus::Running,
            current_node: Some(new.entry_node.clone()),
            created_at: new.now.clone(),
            updated_at: new.now,
            actor_id: "gateway".into(),
            parent_run_id: new.parent_run_id,
            error: None,
            paused: false,
            pause_reason: None,
            paused_at: None,
            resumed_at: None,
            waiting: None,
            // As in the reference, the run's variables start as its input.
            exec: ExecState { vars: new.input_data.clone(), ..ExecState::starting_at(new.entry_node) },
            input_data: new.input_data,
            output: None,
            workspace_root: new.workspace_root,
            last_command_seq: 0,
            ledger_base: 0,
            outbox: Vec::new(),
            sends: Vec::new(),
            spawns: Vec::new(),
            schedule: None,
            children: Vec::new(),
        }
    }

    /// The ledger length once this state's outbox is appended. A reader that sees a terminal
    /// run must wait for the ledger to reach this length before it can say "done".
    pub fn committed_ledger_len(&self) -> u64 {
        self.ledger_base + self.outbox.len() as u64
    }

    /// Starts a new checkpoint: the ledger now holds `ledger_len` records (the previous
    /// outbox included), so this state's outbox starts empty at that length.
    pub fn begin_checkpoint(&mut self, ledger_len: u64) {
        self.ledger_base = ledger_len;
        self.outbox.clear();
        self.sends.clear();
        self.spawns.clear();
    }

    pub(crate) fn record_ctx(&self) -> RecordCtx<'_> {
        RecordCtx { run_id: &self.run_id, actor_id: &self.actor_id, session_id: &self.session_id }
    }

    /// Ends the run as failed at `node_id`, journaling the failure and the terminal status.
    pub fn fail(&mut self, env: &dyn crate::Env, node_id: &str, message: &str) {
        let now = env.now_iso();
        let ctx = self.record_ctx();
        let failed = ctx.failure(env.new_id(), node_id, message, &now);
        let status = ctx.terminal_status(env.new_id(), node_id, "failed", &env.now_iso());
        self.outbox.extend([failed, status]);
        self.current_node = Some(node_id.to_owned());
        self.error = Some(message.to_owned());
        self.finish(RunStatus::Failed, now);
    }

    /// Ends the run as failed because the effect begun by `started` failed (`journaled`: that
    /// record is in the ledger already).
    pub fn fail_effect(&mut self, env: &dyn crate::Env, started: StepRecord, journaled: bool, message: &str) {
        let now = env.now_iso();
        let ctx = self.record_ctx();
        let mut failed = ctx.effect_ended(&started, crate::record::StepStatus::Failed, Value::Null, &now);
        failed.result = None;
        failed.error = Some(message.to_owned());
        let status = ctx.terminal_status(env.new_id(), &started.node_id, "failed", &env.now_iso());
        self.current_node = Some(started.node_id.clone());
        if !journaled {
            self.outbox.push(started);
        }
        self.outbox.extend([failed, status]);
        self.error = Some(message.to_owned());
        self.finish(RunStatus::Failed, now);
    }

    /// Ends the run as completed at `node_id` with `output`.
    pub fn complete(&mut self, env: &dyn crate::Env, node_id: &str, output: Value) {
        let now = env.now_iso();
        let ctx = self.record_ctx();
        let completion = ctx.completion(env.new_id(), node_id, &output, &now);
        let status = ctx.terminal_status(env.new_id(), node_id, "completed", &env.now_iso());
        self.outbox.extend([completion, status]);
        self.current_node = Some(node_id.to_owned());
        self.output = Some(output);
        self.finish(RunStatus::Completed, now);
    }

    /// Ends the run as cancelled, with `reason` as its error; a subflow child it waits on is
    /// cancelled too.
    pub fn cancel(&mut self, env: &dyn crate::Env, reason: Option<String>) {
        let now = env.now_iso();
        self.send_to_children("cancel", &format!("cancel:{}", self.run_id), serde_json::json!({}), &now);
        let node = self.current_node.clone().unwrap_or_default();
        let record = self.record_ctx().terminal_status(env.new_id(), &node, "cancelled", &now);
        self.outbox.push(record);
        self.error = Some(reason.unwrap_or_else(|| "Cancelled".into()));
        self.paused = false;
        self.pause_reason = None;
        self.finish(RunStatus::Cancelled, now);
    }

    /// Starts a child run; its id joins [`children`](Self::children).
    pub fn spawn(&mut self, spawn: Spawn) {
        self.children.push(spawn.run_id.clone());
        self.spawns.push(spawn);
    }

    /// Sends a command to every child: commands for a run apply to its whole tree.
    /// `origin` makes the command ids unique and stable, so a re-sent batch lands once.
    pub fn send_to_children(&mut self, kind: &str, origin: &str, payload: Value, now: &str) {
        for child in self.children.clone() {
            self.sends.push(NewCommand {
                command_id: format!("tree:{origin}:{child}"),
                run_id: child,
                kind: kind.to_owned(),
                payload: payload.clone(),
                ts: now.to_owned(),
                client_id: None,
            });
        }
    }

    fn finish(&mut self, status: RunStatus, now: String) {
        self.status = status;
        self.waiting = None;
        self.exec.cursor = None;
        self.exec.wait_step = None;
        self.exec.resumed = None;
        if let Some(parent) = self.parent_run_id.clone() {
            // The parent waits on `subworkflow:<this run>`; hand it the outcome.
            let mut child_out = match &self.output {
                Some(Value::Object(map)) => map.clone(),
                other => Map::from_iter([("result".to_owned(), other.clone().unwrap_or(Value::Null))]),
            };
            if status != RunStatus::Completed {
                child_out.entry("success").or_insert(Value::Bool(false));
                if status == RunStatus::Cancelled {
                    child_out.insert("cancelled".into(), Value::Bool(true));
                }
                child_out.insert("error".into(), self.error.clone().map_or(Value::Null, Value::String));
            }
            let outcome = serde_json::json!({ "sub_run_id": self.run_id, "output": child_out });
            self.sends.push(NewCommand {
                command_id: format!("subworkflow-done:{}", self.run_id),
                run_id: parent,
                kind: "resume".into(),
                payload: serde_json::json!({ "wait_key": format!("subworkflow:{}", self.run_id), "payload": outcome }),
                ts: now.clone(),
                client_id: Some("gateway".into()),
            });
        }
        self.updated_at = now;
    }

    /// Whether the runner should tick this run.
    pub fn is_runnable(&self) -> bool {
        self.status == RunStatus::Running && !self.paused
    }

    /// Whether this run waits on a timer that has come due (a paused timer waits).
    pub fn is_due(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.status == RunStatus::Waiting && !self.paused && self.waiting.as_ref().is_some_and(|w| w.is_due(now))
    }
}
