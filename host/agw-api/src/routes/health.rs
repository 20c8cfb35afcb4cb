//! `GET /api/health`: public, says whether the gateway can do its work.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// Whether the gateway can do its work.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Serving, and the runner (when enabled) is active.
    Healthy,
    /// The runner is enabled but not active yet.
    Starting,
    /// The runner cannot read the inbox or write runs: nothing makes progress.
    Degraded,
}

/// `GET /api/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// Always `abstractgateway`.
    pub service: String,
    /// This gateway's version (not in the reference's answer).
    pub version: String,
    pub runner: RunnerHealth,
    /// Plugin counts (not in the reference's answer).
    pub plugins: PluginCount,
}

/// The runners of this process.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerHealth {
    pub initialized: bool,
    /// Whether the runner reports an error.
    pub degraded: bool,
    /// One entry: this gateway runs one runner per data dir.
    pub runners: Vec<RunnerEntry>,
}

/// One runner's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerEntry {
    pub enabled: bool,
    /// `active`, `starting` or `disabled`.
    pub status: String,
    pub active: bool,
    /// Whether this process holds the data dir's runner lock.
    pub lock_held: bool,
    pub pid: u32,
    #[schema(required = true)]
    pub lock_acquired_at: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
    pub tenant_id: String,
    pub runtime_id: String,
    /// Plugin load problems.
    pub boot_warnings: Vec<String>,
}

/// How many plugins are loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginCount {
    pub loaded: usize,
}

/// Public: answers without a token.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    summary = "Whether the gateway can do its work",
    responses((status = 200, description = "The gateway's health", body = Health)),
)]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let runner = state.runner.status();
    let problems: Vec<String> = state.plugins.problems().iter().map(ToString::to_string).collect();
    let status = match (runner.enabled && !runner.active, runner.error.is_some()) {
        (true, _) => HealthStatus::Starting,
        (false, true) => HealthStatus::Degraded,
        (false, false) => HealthStatus::Healthy,
    };
    let runner_status = if runner.active {
        "active"
    } else if runner.enabled {
        "starting"
    } else {
        "disabled"
    };
    Json(Health {
        status,
        service: "abstractgateway".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        runner: RunnerHealth {
            initialized: true,
            degraded: runner.error.is_some(),
            runners: vec![RunnerEntry {
                enabled: runner.enabled,
                status: runner_status.into(),
                active: runner.active,
                lock_held: runner.lock_held,
                pid: runner.pid,
                lock_acquired_at: runner.lock_acquired_at,
                error: runner.error,
                tenant_id: "default".into(),
                runtime_id: "default".into(),
                boot_warnings: problems,
            }],
        },
        plugins: PluginCount { loaded: state.plugins.plugins().len() },
    })
}
