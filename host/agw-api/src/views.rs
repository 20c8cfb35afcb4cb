//! Response shapes of a run's state (`GET /runs/{id}`, `GET /runs`), key for key as the
//! reference answers them.

use agw_domain::run::{RunState, RunStatus, Wait};
use agw_domain::schedule::Schedule;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::schema::{RunStatusSchema, WaitSchema};

/// `GET /runs/{id}`: a run as clients see it. Keys the reference sends and this gateway has
/// no use for are present with the reference's value for a plain run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub run_id: String,
    /// `<bundle_id>@<bundle_version>:<flow_id>`, or `scheduled:<uuid>` for a schedule.
    pub workflow_id: String,
    #[schema(value_type = RunStatusSchema)]
    pub status: RunStatus,
    #[schema(required = true)]
    pub current_node: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub actor_id: String,
    pub session_id: String,
    #[schema(required = true)]
    pub parent_run_id: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub flow_warnings: Option<Value>,
    pub paused: bool,
    #[schema(required = true)]
    pub pause_reason: Option<String>,
    #[schema(required = true)]
    pub paused_at: Option<String>,
    #[schema(required = true)]
    pub resumed_at: Option<String>,
    #[schema(value_type = Option<WaitSchema>)]
    #[schema(required = true)]
    pub waiting: Option<Wait>,
    pub is_scheduled: bool,
    #[schema(required = true)]
    pub schedule: Option<ScheduleView>,
    /// Always null here (the reference reports token budgets).
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub limits: Option<Value>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub run_lifecycle: Option<Value>,
    pub is_draft: bool,
    /// A completed run's `on_flow_end` pins plus `"success": true` (open object).
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub output: Option<Value>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub session_history: Option<Value>,
    /// Always null.
    #[schema(required = true)]
    pub automation_id: Option<String>,
    /// `legacy_schedule` for a scheduled parent, else null.
    #[schema(required = true)]
    pub role: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub occurrence_index: Option<u64>,
    /// `automation` for a scheduled parent, else `chat`.
    pub session_kind: String,
    /// Whether this is a scheduled parent.
    pub legacy: bool,
    /// The run's workspace folder (absent from a listing of a run's children).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_root: Option<String>,
}

/// `GET /runs/{id}`.
pub fn run(run: &RunState) -> RunView {
    view(run, run.output.clone())
}

/// The run view with `output` given: a summary, which has none, does not copy it.
fn view(run: &RunState, output: Option<Value>) -> RunView {
    let scheduled = run.schedule.is_some();
    RunView {
        run_id: run.run_id.clone(),
        workflow_id: run.workflow_id.clone(),
        status: run.status,
        current_node: run.current_node.clone(),
        created_at: run.created_at.clone(),
        updated_at: run.updated_at.clone(),
        actor_id: run.actor_id.clone(),
        session_id: run.session_id.clone(),
        parent_run_id: run.parent_run_id.clone(),
        error: run.error.clone(),
        flow_warnings: None,
        paused: run.paused,
        pause_reason: run.pause_reason.clone(),
        paused_at: run.paused_at.clone(),
        resumed_at: run.resumed_at.clone(),
        waiting: run.waiting.clone(),
        is_scheduled: scheduled,
        schedule: run.schedule.as_ref().map(schedule),
        limits: None,
        run_lifecycle: None,
        is_draft: false,
        output,
        session_history: None,
        automation_id: None,
        role: scheduled.then(|| "legacy_schedule".to_owned()),
        occurrence_index: None,
        session_kind: if scheduled { "automation" } else { "chat" }.to_owned(),
        legacy: scheduled,
        workspace_root: Some(run.workspace_root.clone()),
    }
}

/// An item of `GET /runs`: the reference's run summary, key for key (no `flow_warnings`,
/// `output` or `session_history`; `session_kind` after `is_draft`), plus the ledger length.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    pub run_id: String,
    pub workflow_id: String,
    #[schema(value_type = RunStatusSchema)]
    pub status: RunStatus,
    #[schema(required = true)]
    pub current_node: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub actor_id: String,
    pub session_id: String,
    #[schema(required = true)]
    pub parent_run_id: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
    pub paused: bool,
    #[schema(required = true)]
    pub pause_reason: Option<String>,
    #[schema(required = true)]
    pub paused_at: Option<String>,
    #[schema(required = true)]
    pub resumed_at: Option<String>,
    #[schema(value_type = Option<WaitSchema>)]
    #[schema(required = true)]
    pub waiting: Option<Wait>,
    pub is_scheduled: bool,
    #[schema(required = true)]
    pub schedule: Option<ScheduleView>,
    /// Always null here.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub limits: Option<Value>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub run_lifecycle: Option<Value>,
    pub is_draft: bool,
    /// `automation` for a scheduled parent, else `chat`.
    pub session_kind: String,
    /// Always null.
    #[schema(required = true)]
    pub automation_id: Option<String>,
    /// `legacy_schedule` for a scheduled parent, else null.
    #[schema(required = true)]
    pub role: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub occurrence_index: Option<u64>,
    pub legacy: bool,
    pub workspace_root: String,
    /// Records in the run's committed ledger.
    pub ledger_len: u64,
    /// Always `conversation`.
    pub kind: String,
}

/// `GET /runs`' item, from a run and its committed ledger length.
pub fn run_summary(run: &RunState, ledger_len: u64) -> RunSummary {
    let RunView {
        run_id,
        workflow_id,
        status,
        current_node,
        created_at,
        updated_at,
        actor_id,
        session_id,
        parent_run_id,
        error,
        paused,
        pause_reason,
        paused_at,
        resumed_at,
        waiting,
        is_scheduled,
        schedule,
        limits,
        run_lifecycle,
        is_draft,
        session_kind,
        automation_id,
        role,
        occurrence_index,
        legacy,
        workspace_root,
        ..
    } = view(run, None);
    RunSummary {
        run_id,
        workflow_id,
        status,
        current_node,
        created_at,
        updated_at,
        actor_id,
        session_id,
        parent_run_id,
        error,
        paused,
        pause_reason,
        paused_at,
        resumed_at,
        waiting,
        is_scheduled,
        schedule,
        limits,
        run_lifecycle,
        is_draft,
        session_kind,
        automation_id,
        role,
        occurrence_index,
        legacy,
        workspace_root: workspace_root.unwrap_or_default(),
        ledger_len,
        kind: "conversation".into(),
    }
}

/// An item of `GET /runs?parent_run_id=`: as the reference answers it, the whole run view
/// without `workspace_root`, plus `kind`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildRunItem {
    #[serde(flatten)]
    pub run: RunView,
    /// Always `conversation`.
    pub kind: String,
}

/// `GET /runs`: one page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RunList {
    /// Any listing but one by parent.
    Runs(RunPageView),
    /// `parent_run_id=`: the children of one run.
    Children(ChildPageView),
}

/// A page of run summaries.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPageView {
    pub items: Vec<RunSummary>,
    /// Items on this page.
    pub count: usize,
    pub offset: usize,
    /// Whether a next page exists.
    pub has_more: bool,
    /// Always 0 (no run is archived).
    pub archived_sessions: u64,
}

/// A page of one run's children.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildPageView {
    pub items: Vec<ChildRunItem>,
    /// Items on this page.
    pub count: usize,
    /// The parent asked for.
    pub parent_run_id: String,
    pub offset: usize,
    /// Whether a next page exists.
    pub has_more: bool,
}

/// A scheduled parent run's `schedule`, without the runner's bookkeeping.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// Always `scheduled_run`.
    pub kind: String,
    /// `15s`, `15m`, `1h`, `2d`; null launches once.
    #[schema(required = true)]
    pub interval: Option<String>,
    #[schema(required = true)]
    pub repeat_count: Option<u64>,
    #[schema(required = true)]
    pub repeat_until: Option<String>,
    /// Null means "now".
    #[schema(required = true)]
    pub start_at: Option<String>,
    pub share_context: bool,
    pub target_workflow_id: String,
    pub target_bundle_ref: String,
    pub target_flow_id: String,
    pub created_at: String,
    #[schema(required = true)]
    pub updated_at: Option<String>,
}

fn schedule(schedule: &Schedule) -> ScheduleView {
    ScheduleView {
        kind: schedule.kind.clone(),
        interval: schedule.interval.clone(),
        repeat_count: schedule.repeat_count,
        repeat_until: schedule.repeat_until.clone(),
        start_at: schedule.start_at.clone(),
        share_context: schedule.share_context,
        target_workflow_id: schedule.target_workflow_id.clone(),
        target_bundle_ref: schedule.target_bundle_ref.clone(),
        target_flow_id: schedule.target_flow_id.clone(),
        created_at: schedule.created_at.clone(),
        updated_at: schedule.updated_at.clone(),
    }
}
