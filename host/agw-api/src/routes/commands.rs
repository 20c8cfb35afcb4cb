//! `POST /commands`: the durable inbox. Accepting a command means it is on disk.

use axum::Json;
use axum::extract::State;

use agw_app::SubmitCommand;

use crate::AppState;
use crate::body::Body;
use crate::error::ApiResult;
use crate::requests::CommandRequest;
use crate::schema::CommandAnswer;

#[utoipa::path(
    post,
    path = "/commands",
    tag = "commands",
    summary = "Append a command to the durable inbox",
    request_body = CommandRequest,
    responses(
        (status = 200, description = "Accepted, or a duplicate `command_id`", body = CommandAnswer),
        (status = 400, description = "An unknown command type", body = crate::schema::ErrorDetail),
        (status = 404, description = "pause, resume, cancel or update_schedule for an unknown run", body = crate::schema::ErrorDetail),
        (status = 422, description = "A missing or mistyped field, an event without a name, or a schedule update that cannot apply; `detail` is a string for the latter two", body = crate::schema::ValidationError),
    ),
)]
pub async fn submit(
    State(state): State<AppState>,
    Body(request): Body<CommandRequest>,
) -> ApiResult<Json<CommandAnswer>> {
    let command = SubmitCommand::try_from(request)?;
    let accepted = state.call(move |app| app.submit(command)).await?;
    Ok(Json(CommandAnswer { accepted: !accepted.duplicate, duplicate: accepted.duplicate, seq: accepted.seq }))
}
