//! `POST /commands`: the durable inbox. Accepting a command means it is on disk.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use agw_app::SubmitCommand;

use crate::AppState;
use crate::body::Body;
use crate::error::ApiResult;
use crate::requests::CommandRequest;

pub async fn submit(State(state): State<AppState>, Body(request): Body<CommandRequest>) -> ApiResult<Json<Value>> {
    let command = SubmitCommand::try_from(request)?;
    let accepted = state.call(move |app| app.submit(command)).await?;
    Ok(Json(json!({ "accepted": !accepted.duplicate, "duplicate": accepted.duplicate, "seq": accepted.seq })))
}
