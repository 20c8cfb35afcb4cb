//! `POST /runs/schedule`: a scheduled parent run that launches a flow as child runs.

use axum::Json;
use axum::extract::State;

use super::runs::started;
use crate::AppState;
use crate::body::Body;
use crate::error::ApiResult;
use crate::requests::ScheduleRunRequest;
use crate::schema::StartAnswer;

#[utoipa::path(
    post,
    path = "/runs/schedule",
    tag = "runs",
    summary = "Start a scheduled parent run that launches a flow as child runs",
    request_body = ScheduleRunRequest,
    responses(
        (status = 200, description = "The scheduled parent run", body = StartAnswer),
        (status = 400, description = "A malformed interval, inconsistent repeat settings, neither flow nor bundle, or a flow that cannot run", body = crate::schema::ErrorDetail),
        (status = 404, description = "No such bundle or flow", body = crate::schema::ErrorDetail),
        (status = 422, description = "A body that is not a JSON object, or a field of the wrong type or value", body = crate::schema::ValidationError),
    ),
)]
pub async fn schedule(
    State(state): State<AppState>,
    Body(request): Body<ScheduleRunRequest>,
) -> ApiResult<Json<StartAnswer>> {
    let scheduled = state.call(move |app| app.schedule(request.into())).await?;
    Ok(Json(started(scheduled)))
}
