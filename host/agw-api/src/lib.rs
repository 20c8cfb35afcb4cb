//! The HTTP edge: axum routes with the reference's request and response shapes, the
//! security layers (tokens, origins, caps, lockout, audit log), request ids and SSE.
//! Everything durable lives behind the store; this crate only translates.

mod artifact_views;
mod auth;
mod body;
mod bundle_views;
mod error;
pub mod live;
pub mod openapi;
mod pyjson;
mod query;
mod replay_views;
mod requests;
mod routes;
pub mod schema;
mod security;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agw_app::{App, AppResult, DataDir};
use agw_domain::Env;
use agw_runner::RunnerHandle;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use tokio::sync::{Semaphore, watch};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::AuthConfig;
pub use error::ApiError;
use error::ApiResult;
pub use security::SecurityPolicy;

/// What the gateway knows about its plugins, for the health, plugin and discovery answers.
/// Summaries are JSON so this crate does not depend on the plugin runtime; they never hold
/// secret values (only the names of granted secrets).
pub trait PluginDirectory: Send + Sync {
    /// One summary per loaded plugin: identity, sha256, worlds, requested, granted and denied
    /// capabilities, signature status, node types.
    fn plugins(&self) -> Vec<serde_json::Value>;
    /// The summary of the loaded plugin called `name`.
    fn plugin(&self, name: &str) -> Option<serde_json::Value>;
    /// Load problems: rejected sources and node-type conflicts.
    fn problems(&self) -> Vec<PluginProblem>;
    /// How the engine runs plugins: allocator, limits, code-generation fingerprint.
    fn engine(&self) -> serde_json::Value;
}

/// A plugin source that could not be loaded, or a conflict between loaded ones.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PluginProblem {
    /// The file name or first-party name concerned.
    pub label: String,
    /// Why it is not loaded.
    pub reason: String,
}

impl std::fmt::Display for PluginProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.label, self.reason)
    }
}

/// Tuning of the HTTP side.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How often SSE streams look for records when no in-process wakeup arrives.
    pub poll: Duration,
    /// Default seconds of silence before an SSE keep-alive comment.
    pub heartbeat: Duration,
    /// Largest `limit` a ledger page may ask for.
    pub max_ledger_page: usize,
    /// Concurrent SSE streams; one more is refused with 429 before it opens.
    pub max_sse: usize,
    /// Largest bundle file an upload may carry.
    pub max_bundle_bytes: u64,
    /// Largest upload request body (the bundle plus the multipart envelope).
    pub max_upload_body_bytes: u64,
    /// Origins, limits, lockout and audit log (see the `security` module).
    pub security: SecurityPolicy,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            heartbeat: Duration::from_secs(5),
            max_ledger_page: 5000,
            max_sse: 32,
            max_bundle_bytes: 75 * 1024 * 1024,
            max_upload_body_bytes: 77 * 1024 * 1024,
            security: SecurityPolicy::default(),
        }
    }
}

/// Cheap handles shared by every request.
#[derive(Clone)]
pub struct AppState {
    /// The use cases; handlers reach them through [`AppState::call`].
    pub app: Arc<App>,
    pub plugins: Arc<dyn PluginDirectory>,
    pub runner: RunnerHandle,
    /// Time for the security layers (lockout windows, audit stamps).
    pub env: Arc<dyn Env>,
    pub auth: Arc<AuthConfig>,
    /// Where the audit log goes.
    pub data_dir: DataDir,
    pub config: ApiConfig,
    /// One permit per open SSE stream (`config.max_sse` in all).
    pub sse_permits: Arc<Semaphore>,
    /// Turns true when the server shuts down, so SSE streams end cleanly.
    pub shutdown: watch::Receiver<bool>,
    /// Streamed LLM text of runs ticking in this process, for their SSE readers.
    pub live: live::LiveDeltas,
}

impl AppState {
    /// The one way handlers call the application layer: on the blocking pool (use cases
    /// touch the store and the disk), failures mapped to answers by the one mapping.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        use_case: impl FnOnce(&App) -> AppResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || use_case(&app)).await.map_err(ApiError::internal)?.map_err(ApiError::from)
    }
}

#[derive(Clone, Copy)]
struct HexRequestId;

impl MakeRequestId for HexRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        uuid::Uuid::new_v4().simple().to_string().parse().ok().map(RequestId::new)
    }
}

/// `x-gateway-duration-ms` on every answer, as the reference sends it: the time the gateway
/// took to produce the response head (for a stream, to open it).
async fn duration_header(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("{ms:.1}")) {
        response.headers_mut().insert(HeaderName::from_static("x-gateway-duration-ms"), value);
    }
    response
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // The security layers enforce the body cap with the reference's 413; this is the same cap
    // for extractors (axum's own default is 2 MB). The upload route sets its own.
    let body_cap = match usize::try_from(state.config.security.max_body_bytes) {
        Ok(n) if n > 0 => DefaultBodyLimit::max(n),
        _ => DefaultBodyLimit::disable(),
    };
    let (routes, _) = openapi::assemble(&state.config, body_cap);
    let app = routes.with_state(state.clone());
    security::layers(app.layer(axum::middleware::from_fn(detail_for_empty_errors)), &state)
        .layer(axum::middleware::from_fn(duration_header))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, HexRequestId))
}

/// An error answer without a body (axum's own 404 for no route, 405 for a wrong method) gets
/// the reference's `{"detail": "<reason>"}`, headers (such as `Allow`) kept: clients read
/// `detail` from every refusal.
async fn detail_for_empty_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::body::HttpBody;
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.body().size_hint().exact() != Some(0) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let detail = serde_json::json!({ "detail": status.canonical_reason().unwrap_or("Error") }).to_string();
    parts.headers.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(detail))
}

/// Serves until `shutdown` turns true, then stops accepting and lets requests finish.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    use axum::serve::ListenerExt;

    let mut shutdown = state.shutdown.clone();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    // SSE writes each frame separately; with Nagle's algorithm on, a small frame after another
    // small frame waits for the client's delayed ACK (about 40 ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
}
