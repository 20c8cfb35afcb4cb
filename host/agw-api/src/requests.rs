//! Request bodies, field for field as the reference's models take them, and what each becomes
//! for the application layer.

use agw_app::{FlowChoice, ScheduleRun, StartRun, SubmitCommand};
use agw_domain::command::CommandKind;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::ApiError;

/// `POST /runs/start`: which flow to start, on what. A flow is named by `flow_id` (a flow id,
/// `bundle:flow` or `bundle@version:flow`) or by `bundle_id` (`id` or `id@version`) for its
/// default entrypoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StartRunRequest {
    /// A bundle id, or `id@version`.
    pub bundle_id: Option<String>,
    pub bundle_version: Option<String>,
    /// A flow id, `bundle:flow` or `bundle@version:flow`; absent: the bundle's default.
    pub flow_id: Option<String>,
    /// The flow's inputs; absent or null: none.
    #[schema(value_type = Option<Object>)]
    pub input_data: Option<Map<String, Value>>,
    /// Groups related runs; absent, null or empty: the run's own id.
    pub session_id: Option<String>,
}

impl From<StartRunRequest> for StartRun {
    fn from(request: StartRunRequest) -> Self {
        Self {
            flow: FlowChoice {
                bundle_id: request.bundle_id,
                bundle_version: request.bundle_version,
                flow_id: request.flow_id,
            },
            input_data: request.input_data.unwrap_or_default(),
            session_id: request.session_id,
        }
    }
}

/// `POST /runs/schedule`: a start request plus when and how often.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ScheduleRunRequest {
    /// The bundle, `id` or `id@version`.
    pub bundle_id: Option<String>,
    /// The bundle version; the newest when absent.
    pub bundle_version: Option<String>,
    /// The flow; the bundle's default entrypoint when absent.
    pub flow_id: Option<String>,
    /// The target flow's inputs.
    #[schema(value_type = Option<Object>)]
    pub input_data: Option<Map<String, Value>>,
    /// The session the launches belong to; the schedule's own id when absent.
    pub session_id: Option<String>,
    /// `now` (or absent) or an ISO 8601 time with a timezone.
    pub start_at: Option<String>,
    /// `15m`, `1h`, `2d`...; absent: one launch.
    pub interval: Option<String>,
    /// Launches in all (>= 1; > 1 needs `interval`); absent with an interval: forever.
    #[schema(minimum = 1)]
    pub repeat_count: Option<i64>,
    /// Last launch time (ISO 8601); needs an interval, excludes `repeat_count`.
    pub repeat_until: Option<String>,
    /// Launches share the schedule's session (default true).
    pub share_context: Option<bool>,
}

impl From<ScheduleRunRequest> for ScheduleRun {
    fn from(request: ScheduleRunRequest) -> Self {
        Self {
            flow: FlowChoice {
                bundle_id: request.bundle_id,
                bundle_version: request.bundle_version,
                flow_id: request.flow_id,
            },
            input_data: request.input_data.unwrap_or_default(),
            session_id: request.session_id,
            start_at: request.start_at,
            interval: request.interval,
            repeat_count: request.repeat_count,
            repeat_until: request.repeat_until,
            share_context: request.share_context.unwrap_or(true),
        }
    }
}

/// `POST /commands`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CommandRequest {
    /// The client's idempotency key (a UUID is recommended): re-posting it answers the
    /// original `seq`.
    #[schema(min_length = 1)]
    pub command_id: String,
    /// The target run (or session, for `emit_event`).
    pub run_id: String,
    /// `pause`, `resume`, `cancel`, `conclude`, `emit_event`, `update_schedule`,
    /// `compact_memory`, `inject_guidance` or `automation.*`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The command's arguments; absent or null: `{}`.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Map<String, Value>>,
    /// When the client sent it (ISO 8601); absent: the gateway's time.
    pub ts: Option<String>,
    /// Who sent it.
    pub client_id: Option<String>,
}

impl TryFrom<CommandRequest> for SubmitCommand {
    type Error = ApiError;

    fn try_from(request: CommandRequest) -> Result<Self, ApiError> {
        if request.command_id.is_empty() {
            // An empty id would make every later empty one a duplicate, silently dropped.
            return Err(ApiError::invalid_with_ctx(
                "string_too_short",
                &["body", "command_id"],
                "String should have at least 1 character",
                Value::String(String::new()),
                serde_json::json!({ "min_length": 1 }),
            ));
        }
        // The reference answers an unknown type with a 400 listing the known ones.
        let kind = CommandKind::parse(&request.kind)
            .ok_or_else(|| ApiError::bad_request(format!("type must be one of {}", CommandKind::names())))?;
        Ok(Self {
            command_id: request.command_id,
            run_id: request.run_id,
            kind,
            payload: request.payload.unwrap_or_default(),
            ts: request.ts,
            client_id: request.client_id,
        })
    }
}

/// `POST /runs/ledger/batch`: several ledgers' next pages at once.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LedgerBatchRequest {
    /// The runs and how many records of each the client has (default none).
    #[serde(default)]
    pub runs: Vec<LedgerBatchEntry>,
    /// Records per run (>= 1, default 200, capped by the gateway).
    #[schema(minimum = 1)]
    pub limit: Option<i64>,
}

/// One run of a batch ledger read.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LedgerBatchEntry {
    /// The run; an unknown one is left out of the answer.
    pub run_id: String,
    /// Records already consumed (default 0).
    pub after: Option<u64>,
}
