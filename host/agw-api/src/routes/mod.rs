//! Routes, one module per resource.

mod bundles;
mod commands;
mod health;
mod ledger;
mod runs;
mod sse;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

/// Everything under `/api/gateway`, behind authentication.
pub fn gateway_routes() -> Router<AppState> {
    Router::new()
        .route("/bundles", get(bundles::list))
        .route("/bundles/{bundle_id}", get(bundles::detail))
        .route("/bundles/{bundle_id}/flows/{flow_id}", get(bundles::flow))
        .route("/bundles/{bundle_id}/flows/{flow_id}/input_schema", get(bundles::input_schema))
        .route("/runs", get(runs::list))
        .route("/runs/start", post(runs::start))
        .route("/runs/ledger/batch", post(ledger::batch))
        .route("/runs/{run_id}", get(runs::get))
        .route("/runs/{run_id}/ledger", get(ledger::page))
        .route("/runs/{run_id}/ledger/stream", get(sse::stream))
        .route("/commands", post(commands::submit))
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
