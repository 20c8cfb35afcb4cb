//! `GET /api/health`: public, says whether the gateway can do its work.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let runner = state.runner.status();
    let problems: Vec<String> = state.plugins.problems().iter().map(ToString::to_string).collect();
    let status = match (runner.enabled && !runner.active, runner.error.is_some()) {
        (true, _) => "starting",
        // The runner cannot read the inbox or write runs: nothing makes progress.
        (false, true) => "degraded",
        (false, false) => "healthy",
    };
    Json(json!({
        "status": status,
        "service": "abstractgateway",
        "version": env!("CARGO_PKG_VERSION"),
        "runner": {
            "initialized": true,
            "degraded": runner.error.is_some(),
            "runners": [{
                "enabled": runner.enabled,
                "status": if runner.active { "active" } else if runner.enabled { "starting" } else { "disabled" },
                "active": runner.active,
                "lock_held": runner.lock_held,
                "pid": runner.pid,
                "lock_acquired_at": runner.lock_acquired_at,
                "error": runner.error,
                "tenant_id": "default",
                "runtime_id": "default",
                "boot_warnings": problems,
            }],
        },
        "plugins": { "loaded": state.plugins.plugins().len() },
    }))
}
