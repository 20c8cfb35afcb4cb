//! `GET /plugins` and `GET /plugins/{name}`: what the plugin host loaded, what each plugin
//! requests, what the operator's policy grants and denies it, its signature status, and the
//! sources that failed to load. Reads, behind the same token as every `/api/gateway` route.
//!
//! There are no user accounts yet (every accepted token is the operator); these routes show
//! the operator's policy and must become admin-only when users arrive.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// `{"plugins": [summary...], "problems": [{label, reason}...], "engine": {...}}`.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let directory = &state.plugins;
    Json(json!({
        "plugins": directory.plugins(),
        "problems": directory.problems(),
        "engine": directory.engine(),
    }))
}

/// One loaded plugin's summary; 404 when no loaded plugin has that name.
pub async fn detail(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    state.plugins.plugin(&name).map(Json).ok_or_else(|| ApiError::not_found(format!("plugin '{name}' is not loaded")))
}
