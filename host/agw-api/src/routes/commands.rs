//! `POST /commands`: the durable inbox. Accepting a command means it is on disk.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use agw_domain::command::{Command, KNOWN_TYPES, NewCommand};
use agw_domain::run::RunState;
use agw_domain::schedule::{IntervalError, check_interval};

use super::runs::object_body;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::fields::{optional_str, required_str, required_text};

/// Commands that act on one run, refused at the door when that run does not exist.
const RUN_COMMANDS: &[&str] = &["pause", "resume", "cancel", "update_schedule"];

#[utoipa::path(
    post,
    path = "/commands",
    tag = "commands",
    summary = "Append a command to the durable inbox",
    request_body = crate::schema::CommandRequest,
    responses(
        (status = 200, description = "Accepted, or a duplicate `command_id`", body = crate::schema::CommandAnswer),
        (status = 400, description = "An unknown command type", body = crate::schema::ErrorDetail),
        (status = 404, description = "pause, resume, cancel or update_schedule for an unknown run", body = crate::schema::ErrorDetail),
        (status = 422, description = "A missing or mistyped field, an event without a name, or a schedule update that cannot apply; `detail` is a string for the latter two", body = crate::schema::ValidationError),
    ),
)]
pub async fn submit(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let body = object_body(&body)?;
    // An empty `command_id` would make every later empty one a duplicate, silently dropped.
    let command_id = required_text(&body, &["body"], "command_id")?;
    let run_id = required_str(&body, &["body"], "run_id")?;
    let kind = required_str(&body, &["body"], "type")?;
    if !KNOWN_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(format!("type must be one of {}", KNOWN_TYPES.join("|"))));
    }
    let payload = match body.get("payload") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(other) => {
            return Err(ApiError::invalid(
                "dict_type",
                &["body", "payload"],
                "Input should be a valid dictionary",
                other.clone(),
            ));
        }
    };
    let run = if RUN_COMMANDS.contains(&kind.as_str()) {
        Some(state.store.load_run(&run_id)?.ok_or_else(|| ApiError::run_not_found(&run_id))?)
    } else {
        None
    };
    refuse_what_cannot_apply(&kind, &run_id, &payload, run.as_ref())?;
    let command = NewCommand {
        command_id,
        run_id,
        kind,
        payload,
        ts: optional_str(&body, &["body"], "ts")?.unwrap_or_else(|| state.env.now_iso()),
        client_id: optional_str(&body, &["body"], "client_id")?,
    };
    // The append is fsynced: keep it off the async workers.
    let store = state.store.clone();
    let accepted =
        tokio::task::spawn_blocking(move || store.append_command(command)).await.map_err(ApiError::internal)??;
    state.runner.wake();
    Ok(Json(json!({ "accepted": !accepted.duplicate, "duplicate": accepted.duplicate, "seq": accepted.seq })))
}

/// Refuses at the door a command the runner could only drop: an event without a name, a
/// schedule update without a valid interval or for a run that is not a schedule.
fn refuse_what_cannot_apply(kind: &str, run_id: &str, payload: &Value, run: Option<&RunState>) -> ApiResult<()> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    if kind == "emit_event"
        && let Value::Object(fields) = payload
    {
        // The event's key is made of these: one of another type must not fall back to a
        // default (a numeric `scope` would be delivered to the session).
        for key in ["name", "scope", "session_id", "sessionId", "workflow_id", "workflowId", "run_id", "runId"] {
            optional_str(fields, &["body", "payload"], key)?;
        }
    }
    match kind {
        "emit_event" if text("name").is_none() => {
            Err(ApiError::invalid("missing", &["body", "payload", "name"], "Field required", payload.clone()))
        }
        "emit_event" => {
            let probe = Command {
                seq: 0,
                command_id: String::new(),
                run_id: run_id.to_owned(),
                kind: kind.to_owned(),
                payload: payload.clone(),
                ts: String::new(),
                client_id: None,
            };
            probe.event().map(|_| ()).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        }
        "update_schedule" => {
            if run.is_some_and(|r| r.schedule.is_none()) {
                let id = run.map(|r| r.run_id.as_str()).unwrap_or_default();
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Run '{id}' is not a scheduled run"),
                ));
            }
            let problem = match text("interval").map(check_interval) {
                Some(Ok(_)) => return Ok(()),
                Some(Err(problem)) => problem,
                None => IntervalError::Malformed,
            };
            Err(ApiError::invalid(
                "value_error",
                &["body", "payload", "interval"],
                &format!("Value error, {problem}"),
                payload.get("interval").cloned().unwrap_or(Value::Null),
            ))
        }
        _ => Ok(()),
    }
}
