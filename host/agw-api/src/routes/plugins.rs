//! `GET /plugins` and `GET /plugins/{name}`: what the plugin host loaded, what each plugin
//! requests, what the operator's policy grants and denies it, its signature status, and the
//! sources that failed to load. Reads, behind the same token as every `/api/gateway` route.
//!
//! There are no user accounts yet (every accepted token is the operator); these routes show
//! the operator's policy and must become admin-only when users arrive.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::schema::ErrorDetail;
use crate::{AppState, PluginProblem};

/// `GET /plugins`: what the plugin host loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    /// One summary per loaded plugin: identity, sha256, worlds, requested, granted and denied
    /// capabilities, signature status, node types (open objects).
    #[schema(value_type = Vec<Object>)]
    pub plugins: Vec<Value>,
    /// Sources that failed to load, and node-type conflicts.
    pub problems: Vec<PluginProblem>,
    /// How the engine runs plugins: allocator, limits, code-generation fingerprint (open object).
    #[schema(value_type = Object)]
    pub engine: Value,
}

/// `{"plugins": [summary...], "problems": [{label, reason}...], "engine": {...}}`.
#[utoipa::path(
    get,
    path = "/plugins",
    tag = "plugins",
    summary = "Loaded plugins, their capabilities and load problems",
    responses((status = 200, description = "The plugins", body = PluginList)),
)]
pub async fn list(State(state): State<AppState>) -> Json<PluginList> {
    let directory = &state.plugins;
    Json(PluginList { plugins: directory.plugins(), problems: directory.problems(), engine: directory.engine() })
}

/// One loaded plugin's summary; 404 when no loaded plugin has that name.
#[utoipa::path(
    get,
    path = "/plugins/{name}",
    tag = "plugins",
    summary = "One loaded plugin's summary",
    params(("name" = String, Path, description = "The plugin's name")),
    responses(
        (status = 200, description = "The plugin's summary (open object)", body = Object),
        (status = 404, description = "No loaded plugin has that name", body = ErrorDetail),
    ),
)]
pub async fn detail(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    state.plugins.plugin(&name).map(Json).ok_or_else(|| ApiError::not_found(format!("plugin '{name}' is not loaded")))
}
