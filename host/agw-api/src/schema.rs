//! Schemas that exist for the OpenAPI document only: the error bodies, the request bodies
//! the handlers still parse by hand, the start and command answers, and mirrors of domain types that are serialized as they
//! are (a ledger record, a wait). Each mirror names the domain type it describes; the
//! transcript validation test keeps them honest.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Every refusal but a validation error: `{"detail": "<why>"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for a person.
    pub detail: String,
}

/// A 422: `{"detail": [issue...]}` in pydantic's shape, one issue per field that failed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationError {
    /// The fields that failed.
    pub detail: Vec<ValidationIssue>,
}

/// One field that failed validation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationIssue {
    /// pydantic's error type (`missing`, `dict_type`, `int_parsing`, `greater_than_equal`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", <field>...]` or `["query", <name>]`.
    pub loc: Vec<String>,
    /// What is wrong, for a person.
    pub msg: String,
    /// The value that failed (any JSON value; the whole object for a missing field).
    pub input: Value,
    /// The constraint that failed, when there is one (`{"ge": 1}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub ctx: Option<Map<String, Value>>,
}

/// A refusal that names a stable reason: `{"detail": {"reason_code", "message"}}` (the 410
/// of `DELETE /bundles/{id}`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReasonDetail {
    /// Why, as a code and a sentence.
    pub detail: Reason,
}

/// A refusal's stable reason code and its sentence.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    /// Machine-readable, snake_case.
    pub reason_code: String,
    /// For a person.
    pub message: String,
}

/// `POST /commands`: whether the command was taken.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandAnswer {
    /// False for a `command_id` the inbox already holds.
    pub accepted: bool,
    /// True for a `command_id` the inbox already holds.
    pub duplicate: bool,
    /// The command's place in the global inbox (the original's for a duplicate).
    pub seq: u64,
}

/// `resolved_workflow` of a start answer: which workflow the request named.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResolvedWorkflow {
    /// Always `client`.
    pub source: String,
    pub workflow_id: String,
    pub bundle_id: String,
    pub bundle_version: String,
    pub flow_id: String,
    /// Always `private`.
    pub registry_scope: String,
    /// The entrypoint's name (its flow id when it has none).
    pub name: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub interface: Option<Value>,
}

/// `POST /runs/start` and `POST /runs/schedule`: the new run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StartAnswer {
    pub run_id: String,
    /// Always null.
    #[schema(required = true)]
    pub runner_warning: Option<String>,
    pub resolved_workflow: ResolvedWorkflow,
}

/// `POST /bundles/upload`, as `multipart/form-data`.
#[derive(Debug, ToSchema)]
pub struct BundleUploadForm {
    /// The `.flow` file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Replace an installed bundle of the same id and version (default false).
    pub overwrite: Option<bool>,
    /// Serve the catalog again right away (default true).
    pub reload: Option<bool>,
}

/// Raw bytes: an artifact's content, with its stored content type.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct RawBytes(pub Vec<u8>);

/// A run's lifecycle status (`agw_domain::run::RunStatus`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = RunStatus)]
pub enum RunStatusSchema {
    /// Steps are being executed.
    Running,
    /// Waiting for an event, a time, a user, a job or a subflow.
    Waiting,
    /// Finished with an output.
    Completed,
    /// Finished with an error.
    Failed,
    /// Stopped by a `cancel` command.
    Cancelled,
}

/// What a waiting run waits for (`agw_domain::run::Wait`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Wait)]
pub struct WaitSchema {
    /// `event`, `until`, `user`, `job` or `subworkflow`.
    pub reason: String,
    /// The key that resumes it (`evt:<scope>:<id>:<name>`, `pause:<run_id>`...).
    #[schema(required = true)]
    pub wait_key: Option<String>,
    /// For `until`: when (ISO 8601).
    #[schema(required = true)]
    pub until: Option<String>,
    /// For `user`: the question.
    #[schema(required = true)]
    pub prompt: Option<String>,
    /// For `user`: the offered answers.
    #[schema(required = true)]
    pub choices: Option<Vec<Value>>,
    /// For `user`: whether an answer outside `choices` is accepted.
    pub allow_free_text: bool,
    /// Anything else the wait carries.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub details: Option<Value>,
}

/// The status of one ledger record (`agw_domain::record::StepStatus`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = StepStatus)]
pub enum StepStatusSchema {
    /// An effectful step began.
    Started,
    /// It finished.
    Completed,
    /// It waits (its `result.wait` says for what).
    Waiting,
    /// It failed.
    Failed,
    /// It was cancelled.
    Cancelled,
}

/// What an effectful step did (`agw_domain::record::Effect`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Effect)]
pub struct EffectSchema {
    /// `emit_event`, `resume`, `wait_event`, `start_subworkflow`, `llm_call`...
    #[serde(rename = "type")]
    pub kind: String,
    /// The effect's arguments (open: depends on the type).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Where the result is stored in the run's variables.
    #[schema(required = true)]
    pub result_key: Option<String>,
}

/// One append-only ledger record (`agw_domain::record::StepRecord`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = StepRecord)]
pub struct StepRecordSchema {
    /// The run.
    pub run_id: String,
    /// Shared by a step's `started` record and its terminal record.
    pub step_id: String,
    /// The flow node.
    pub node_id: String,
    /// The record's status.
    pub status: StepStatusSchema,
    /// Null for a completion; what was done otherwise.
    #[schema(required = true)]
    pub effect: Option<EffectSchema>,
    /// The step's result (open: depends on the effect).
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub result: Option<Value>,
    /// Why it failed.
    #[schema(required = true)]
    pub error: Option<String>,
    /// ISO 8601.
    pub started_at: String,
    /// ISO 8601.
    #[schema(required = true)]
    pub ended_at: Option<String>,
    /// Who acted (`gateway`).
    pub actor_id: String,
    /// The run's session.
    pub session_id: String,
    /// 1 for a first try.
    pub attempt: u32,
    /// Deduplicates system records (`system:completion:<node>`...).
    #[schema(required = true)]
    pub idempotency_key: Option<String>,
    /// The hash chain, when enabled.
    #[schema(required = true)]
    pub prev_hash: Option<String>,
    /// The hash chain, when enabled.
    #[schema(required = true)]
    pub record_hash: Option<String>,
    /// A signature, when enabled.
    #[schema(required = true)]
    pub signature: Option<String>,
}
