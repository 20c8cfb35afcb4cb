//! Durable run state: what a run is, where it is, and what it waits for.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::flow::ExecState;
use crate::record::{RecordCtx, StepRecord};

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

/// What a waiting run waits for, in the reference's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub reason: String,
    pub wait_key: String,
    pub until: Option<String>,
    pub prompt: Option<String>,
    pub choices: Option<Value>,
    pub allow_free_text: bool,
    pub details: Option<Value>,
}

impl Wait {
    /// The synthetic user wait that `pause` puts on a running run.
    pub fn pause(run_id: &str) -> Self {
        Self {
            reason: "user".into(),
            wait_key: format!("pause:{run_id}"),
            until: None,
            prompt: Some("Paused".into()),
            choices: None,
            allow_free_text: false,
            details: Some(serde_json::json!({ "kind": "pause" })),
        }
    }

    pub fn is_pause(&self) -> bool {
        self.wait_key.starts_with("pause:")
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
            input_data: new.input_data,
            output: None,
            workspace_root: new.workspace_root,
            exec: ExecState::starting_at(new.entry_node),
            last_command_seq: 0,
            ledger_base: 0,
            outbox: Vec::new(),
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
    }

    /// Ends the run as failed at `node_id`, journaling the failure and the terminal status.
    pub fn fail(&mut self, env: &dyn crate::Env, node_id: &str, message: &str) {
        let now = env.now_iso();
        let ctx = RecordCtx { run_id: &self.run_id, actor_id: &self.actor_id, session_id: &self.session_id };
        let failed = ctx.failure(env.new_id(), node_id, message, &now);
        let status = ctx.terminal_status(env.new_id(), node_id, "failed", &env.now_iso());
        self.outbox.extend([failed, status]);
        self.current_node = Some(node_id.to_owned());
        self.error = Some(message.to_owned());
        self.finish(RunStatus::Failed, now);
    }

    /// Ends the run as completed at `node_id` with `output`.
    pub fn complete(&mut self, env: &dyn crate::Env, node_id: &str, output: Value) {
        let now = env.now_iso();
        let ctx = RecordCtx { run_id: &self.run_id, actor_id: &self.actor_id, session_id: &self.session_id };
        let completion = ctx.completion(env.new_id(), node_id, &output, &now);
        let status = ctx.terminal_status(env.new_id(), node_id, "completed", &env.now_iso());
        self.outbox.extend([completion, status]);
        self.current_node = Some(node_id.to_owned());
        self.output = Some(output);
        self.finish(RunStatus::Completed, now);
    }

    fn finish(&mut self, status: RunStatus, now: String) {
        self.status = status;
        self.waiting = None;
        self.exec.cursor = None;
        self.updated_at = now;
    }

    /// Whether the runner should tick this run.
    pub fn is_runnable(&self) -> bool {
        self.status == RunStatus::Running && !self.paused
    }
}
