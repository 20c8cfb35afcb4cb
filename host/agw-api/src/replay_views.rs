//! Response shapes of what a client needs to replay or restart a run: its input data, its
//! history bundle and its artifacts, key for key as the reference answers them.

use agw_domain::record::StepRecord;
use agw_domain::run::{RunState, RunStatus, Wait};
use agw_store::ArtifactMeta;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::artifact_views::ArtifactSummary;
use crate::schema::{RunStatusSchema, StepRecordSchema, WaitSchema};

/// `workflow_selection`: which workflow a run was started on, as the start answer names it.
/// It lives inside open `input_data` objects, so it stays JSON.
pub fn workflow_selection(run: &RunState, name: &str) -> Value {
    json!({
        "source": "client",
        "workflow_id": run.workflow_id,
        "bundle_id": run.flow.bundle_id,
        "bundle_version": run.flow.bundle_version,
        "flow_id": run.flow.flow_id,
        "registry_scope": "private",
        "name": name,
        "interface": null,
    })
}

/// The access mode the reference reports for a gateway-made workspace.
const WORKSPACE_ACCESS_MODE: &str = "all_except_ignored";

/// Where a run works.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub workspace_root: String,
    /// Always `all_except_ignored`.
    pub workspace_access_mode: String,
}

/// `GET /runs/{id}/input_data`: what a client needs to start the run again.
#[derive(Debug, Serialize, ToSchema)]
pub struct InputDataView {
    pub run_id: String,
    pub workflow_id: String,
    pub bundle_id: String,
    pub bundle_version: String,
    pub flow_id: String,
    /// The flow's input pins when its bundle is loaded, else empty.
    pub pin_ids: Vec<String>,
    /// The run's inputs plus `workflow_selection` (open object).
    #[schema(value_type = Object)]
    pub input_data: Map<String, Value>,
    pub workspace: WorkspaceView,
}

/// `GET /runs/{id}/input_data`. `pin_ids` are the flow's inputs when its bundle is loaded;
/// then `input_data` holds only those (what a client may start again), else every public key.
pub fn input_data(run: &RunState, pin_ids: &[String], name: &str) -> InputDataView {
    let mut inputs: Map<String, Value> = run
        .input_data
        .iter()
        .filter(|(k, _)| if pin_ids.is_empty() { !k.starts_with('_') } else { pin_ids.contains(k) })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    inputs.insert("workflow_selection".into(), workflow_selection(run, name));
    InputDataView {
        run_id: run.run_id.clone(),
        workflow_id: run.workflow_id.clone(),
        bundle_id: run.flow.bundle_id.clone(),
        bundle_version: run.flow.bundle_version.clone(),
        flow_id: run.flow.flow_id.clone(),
        pin_ids: pin_ids.to_vec(),
        input_data: inputs,
        workspace: WorkspaceView {
            workspace_root: run.workspace_root.clone(),
            workspace_access_mode: WORKSPACE_ACCESS_MODE.into(),
        },
    }
}

/// The run's variables as the history bundle shows them: its public inputs plus where it works.
pub fn history_input_data(run: &RunState, name: &str) -> Map<String, Value> {
    let mut vars: Map<String, Value> =
        run.input_data.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.insert("workspace_access_mode".into(), json!(WORKSPACE_ACCESS_MODE));
    vars.insert("workspace_allowed_paths".into(), json!([]));
    vars.insert("workspace_root".into(), json!(run.workspace_root));
    vars.insert("workflow_selection".into(), workflow_selection(run, name));
    vars
}

/// The `run` of a history bundle: the run view's core keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryRun {
    pub run_id: String,
    pub workflow_id: String,
    #[schema(value_type = RunStatusSchema)]
    pub status: RunStatus,
    /// The node it is at (empty when none).
    pub current_node: String,
    pub created_at: String,
    pub updated_at: String,
    pub actor_id: String,
    pub session_id: String,
    #[schema(required = true)]
    pub parent_run_id: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(value_type = Option<WaitSchema>)]
    #[schema(required = true)]
    pub waiting: Option<Wait>,
}

/// The `run` of a history bundle.
pub fn history_run(run: &RunState) -> HistoryRun {
    HistoryRun {
        run_id: run.run_id.clone(),
        workflow_id: run.workflow_id.clone(),
        status: run.status,
        current_node: run.current_node.clone().unwrap_or_default(),
        created_at: run.created_at.clone(),
        updated_at: run.updated_at.clone(),
        actor_id: run.actor_id.clone(),
        session_id: run.session_id.clone(),
        parent_run_id: run.parent_run_id.clone(),
        error: run.error.clone(),
        waiting: run.waiting.clone(),
    }
}

/// `workflow_snapshot` of a history bundle: the run's snapshot artifact.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotRef {
    /// The snapshot's `workflow_id` tag (any JSON value, null when absent).
    pub workflow_id: Value,
    /// The snapshot's `format` tag (`visualflow_json`).
    pub format: Value,
    pub sha256: String,
    pub artifact_id: String,
    pub created_at: String,
}

/// `workflow_snapshot` of a history bundle.
pub fn snapshot_ref(meta: &ArtifactMeta) -> SnapshotRef {
    let tag = |key: &str| meta.tags.get(key).cloned().unwrap_or(Value::Null);
    SnapshotRef {
        workflow_id: tag("workflow_id"),
        format: tag("format"),
        sha256: meta.sha256.clone(),
        artifact_id: meta.artifact_id.clone(),
        created_at: meta.created_at.clone(),
    }
}

/// A ledger record with its 1-based cursor.
#[derive(Debug, Serialize, ToSchema)]
pub struct CursorRecord {
    pub cursor: u64,
    #[schema(value_type = StepRecordSchema)]
    pub record: StepRecord,
}

/// One ledger of a history bundle.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryLedger {
    pub run_id: String,
    /// Records in the whole ledger.
    pub total: u64,
    /// The cursor of `items[0]`.
    pub cursor_start: u64,
    /// The cursor of the last item.
    pub cursor_end: u64,
    pub items: Vec<CursorRecord>,
    pub artifacts: Vec<ArtifactSummary>,
}

/// One ledger of a history bundle; `first_cursor` is the 1-based cursor of `records[0]`.
pub fn history_ledger(
    run_id: &str,
    total: u64,
    first_cursor: u64,
    records: Vec<StepRecord>,
    artifacts: Vec<ArtifactSummary>,
) -> HistoryLedger {
    let cursor_end = (first_cursor + records.len() as u64).saturating_sub(1);
    let items = records
        .into_iter()
        .enumerate()
        .map(|(i, record)| CursorRecord { cursor: first_cursor + i as u64, record })
        .collect();
    HistoryLedger { run_id: run_id.to_owned(), total, cursor_start: first_cursor, cursor_end, items, artifacts }
}

/// One timeline row of a history bundle: a record, summarized.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineRow {
    pub run_id: String,
    pub cursor: u64,
    #[schema(required = true)]
    pub node_id: Option<String>,
    #[schema(required = true)]
    pub status: Option<String>,
    #[schema(required = true)]
    pub effect_type: Option<String>,
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// `started_at` when the record has no end.
    #[schema(required = true)]
    pub ended_at: Option<String>,
    #[schema(required = true)]
    pub duration_ms: Option<f64>,
}

/// One timeline row of a history bundle.
pub fn timeline_row(run_id: &str, cursor: u64, record: &StepRecord) -> TimelineRow {
    let text = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    let started_at = record.started_at.clone();
    let ended_at = text(record.ended_at.as_deref()).unwrap_or_else(|| started_at.clone());
    let micros = |v: &str| chrono::DateTime::parse_from_rfc3339(v).ok().map(|t| t.timestamp_micros());
    let duration_ms = match (micros(&started_at), micros(&ended_at)) {
        (Some(s), Some(e)) => Some(((e - s).max(0) as f64 / 10.0).round() / 100.0),
        _ => None,
    };
    let status = serde_json::to_value(record.status).ok();
    TimelineRow {
        run_id: run_id.to_owned(),
        cursor,
        node_id: text(Some(&record.node_id)),
        status: text(status.as_ref().and_then(Value::as_str)),
        effect_type: text(record.effect.as_ref().map(|e| e.kind.as_str())),
        started_at: Some(started_at),
        ended_at: Some(ended_at),
        duration_ms,
    }
}

/// One warning of a history bundle (a ledger cut to its tail).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryWarning {
    /// `ledger_tail_window`.
    pub code: String,
    pub run_id: String,
    pub detail: String,
    pub total: u64,
    pub window: u64,
}

/// `GET /runs/{id}/history_bundle`: everything a client needs to replay a run tree offline.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryBundle {
    /// Always 1.
    pub version: u32,
    pub generated_at: String,
    /// Always `full`.
    pub detail: String,
    pub root_run_id: String,
    pub run: HistoryRun,
    #[schema(required = true)]
    pub workflow_snapshot: Option<SnapshotRef>,
    /// The root run's public inputs, workspace and `workflow_selection` (open object).
    #[schema(value_type = Object)]
    pub input_data: Map<String, Value>,
    /// `run_id → ledger`, the root first, then its descendants breadth first.
    #[schema(value_type = HashMap<String, HistoryLedger>)]
    pub ledgers: OrderedMap<HistoryLedger>,
    pub timeline: Vec<TimelineRow>,
    /// Always empty.
    pub resolved_actions: Vec<Value>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub session: Option<Value>,
    pub warnings: Vec<HistoryWarning>,
}

/// A JSON object whose keys keep the order they were added in.
#[derive(Debug)]
pub struct OrderedMap<T>(pub Vec<(String, T)>);

impl<T: Serialize> Serialize for OrderedMap<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}
