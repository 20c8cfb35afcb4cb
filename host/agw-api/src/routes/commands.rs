//! `POST /commands`: the durable inbox. Accepting a command means it is on disk.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use agw_domain::command::{KNOWN_TYPES, NewCommand};

use super::json_body;
use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Commands that act on one run, refused at the door when that run does not exist.
const RUN_COMMANDS: &[&str] = &["pause", "resume", "cancel", "update_schedule"];

pub async fn submit(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let body = json_body(&body)?;
    let field = |key: &str| -> ApiResult<String> {
        match body.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => {
                Err(ApiError::invalid("missing", &["body", key], "Field required", body.clone()))
            }
            Some(other) => {
                Err(ApiError::invalid("string_type", &["body", key], "Input should be a valid string", other.clone()))
            }
        }
    };
    let command_id = field("command_id")?;
    let run_id = field("run_id")?;
    let kind = field("type")?;
    if !KNOWN_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(format!("type must be one of {}", KNOWN_TYPES.join("|"))));
    }
    if RUN_COMMANDS.contains(&kind.as_str()) && state.store.load_run(&run_id)?.is_none() {
        return Err(ApiError::run_not_found(&run_id));
    }
    let command = NewCommand {
        command_id,
        run_id,
        kind,
        payload: body.get("payload").cloned().filter(|p| !p.is_null()).unwrap_or_else(|| json!({})),
        ts: body.get("ts").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| state.env.now_iso()),
        client_id: body.get("client_id").and_then(Value::as_str).map(str::to_owned),
    };
    // The append is fsynced: keep it off the async workers.
    let store = state.store.clone();
    let accepted =
        tokio::task::spawn_blocking(move || store.append_command(command)).await.map_err(ApiError::internal)??;
    state.runner.wake();
    Ok(Json(json!({ "accepted": !accepted.duplicate, "duplicate": accepted.duplicate, "seq": accepted.seq })))
}
