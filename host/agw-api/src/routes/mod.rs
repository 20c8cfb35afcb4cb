//! Routes, one module per resource.

mod artifacts;
mod bundle_admin;
mod bundles;
mod commands;
mod discovery;
mod health;
mod identity;
mod ledger;
mod plugins;
mod run_data;
mod runs;
mod schedules;
mod sse;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::{ApiConfig, AppState};

/// Everything under `/api/gateway`, behind authentication.
pub fn gateway_routes(config: &ApiConfig) -> Router<AppState> {
    let upload_limit = usize::try_from(config.max_upload_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/ping", get(identity::ping))
        .route("/me", get(identity::me))
        .route("/bundles", get(bundles::list))
        .route("/bundles/upload", post(bundle_admin::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/bundles/reload", post(bundle_admin::reload))
        .route("/bundles/{bundle_id}", get(bundles::detail).delete(bundle_admin::remove))
        .route("/bundles/{bundle_id}/flows/{flow_id}", get(bundles::flow))
        .route("/bundles/{bundle_id}/flows/{flow_id}/input_schema", get(bundles::input_schema))
        .route("/runs", get(runs::list))
        .route("/runs/start", post(runs::start))
        .route("/runs/schedule", post(schedules::schedule))
        .route("/runs/ledger/batch", post(ledger::batch))
        .route("/runs/{run_id}", get(runs::get))
        .route("/runs/{run_id}/ledger", get(ledger::get_page))
        .route("/runs/{run_id}/ledger/stream", get(sse::stream))
        .route("/runs/{run_id}/input_data", get(run_data::input_data))
        .route("/runs/{run_id}/history_bundle", get(run_data::history_bundle))
        .route("/runs/{run_id}/artifacts", get(artifacts::list))
        .route("/runs/{run_id}/artifacts/{artifact_id}", get(artifacts::metadata))
        .route("/runs/{run_id}/artifacts/{artifact_id}/content", get(artifacts::content))
        .route("/commands", post(commands::submit))
        .route("/plugins", get(plugins::list))
        .route("/plugins/{name}", get(plugins::detail))
        .route("/discovery/capabilities", get(discovery::capabilities))
}

/// Routes anyone may call.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/api/health", get(health::health))
}

/// Parses a JSON body leniently, so field-level problems get FastAPI-style 422 answers
/// instead of a generic rejection.
pub(crate) fn json_body(bytes: &[u8]) -> Result<serde_json::Value, crate::ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::ApiError::invalid("json_invalid", &["body"], &format!("JSON decode error: {e}"), serde_json::Value::Null)
    })
}
