//! `POST /runs/schedule`: a scheduled parent run that launches a flow as child runs.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::runs::started;
use crate::AppState;
use crate::body::Body;
use crate::error::ApiResult;
use crate::requests::ScheduleRunRequest;

pub async fn schedule(
    State(state): State<AppState>,
    Body(request): Body<ScheduleRunRequest>,
) -> ApiResult<Json<Value>> {
    let scheduled = state.call(move |app| app.schedule(request.into())).await?;
    Ok(Json(started(&scheduled)))
}
