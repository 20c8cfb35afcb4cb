//! The checks in front of `/api/gateway` (contract.md "Security"), one tower layer per rule,
//! applied to the whole router in this order, outermost first:
//!
//! 1. [`cors`]: answers preflights from allowed origins and adds CORS headers for them.
//! 2. gzip (tower-http) for answers of 1 KiB or more when the client accepts it; never SSE.
//! 3. [`audit`]: one line per write request, rejected ones included, written off the request
//!    path to `<data>/audit_log.jsonl`.
//! 4. [`origin`]: an `Origin` not on the allowlist gets 403.
//! 5. [`authenticate`]: bearer token (or `?access_token=` on reads), 401, 503 without tokens, and the
//!    per-IP lockout of [`lockout`] (429).
//! 6. [`body_limit`]: 413 over the body cap, decided from `Content-Length` before reading.
//! 7. [`concurrency`]: 429 over the in-flight cap; SSE streams have their own cap.
//!
//! Layers 3–7 act only on `/api/gateway` paths and only with `ABSTRACTGATEWAY_SECURITY` on;
//! they pass everything else through untouched. A refusal of 4–7 answers without reading
//! the request's body, so when there is one it also says `Connection: close`
//! ([`close_after_refusal`]).

mod audit;
mod audit_log;
mod authenticate;
mod body_limit;
mod client;
mod concurrency;
mod cors;
mod lockout;
mod origin;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

use crate::AppState;
use crate::auth::AuthConfig;
pub(crate) use authenticate::{Outcome, Principal};

/// The security settings besides the tokens (`ABSTRACTGATEWAY_*`, contract.md "Security").
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    /// `PROTECT_READ` [1]: GET and HEAD need a token.
    pub protect_read: bool,
    /// `PROTECT_WRITE` [1]: every other method needs a token.
    pub protect_write: bool,
    /// `DEV_READ_NO_AUTH` [0]: reads from a loopback client need no token.
    pub dev_read_no_auth: bool,
    /// `ALLOWED_ORIGINS`: glob patterns (`*`, `?`, `[...]`) an `Origin` header must match.
    pub allowed_origins: Vec<String>,
    /// `MAX_BODY_BYTES` [10 MiB]: largest write body; 0 means no limit.
    pub max_body_bytes: u64,
    /// `MAX_CONCURRENCY` [64]: requests in flight, SSE streams not counted.
    pub max_concurrency: usize,
    /// `LOCKOUT_AFTER` [10]: invalid credentials from one IP before it is locked out.
    pub lockout_after: u32,
    /// `LOCKOUT_BASE_S` [1]: the first lockout; each further failure doubles it.
    pub lockout_base: Duration,
    /// `LOCKOUT_MAX_S` [60]: the longest lockout.
    pub lockout_max: Duration,
    /// `TRUST_PROXY` [0]: the client IP is the first `X-Forwarded-For` entry.
    pub trust_proxy: bool,
    /// `AUDIT_LOG` [1]: write `<data>/audit_log.jsonl`.
    pub audit_log: bool,
    /// `AUDIT_LOG_MAX_BYTES` [50 MiB]: rotate the audit log at this size; 0 never rotates.
    pub audit_log_max_bytes: u64,
    /// `AUDIT_LOG_ROTATIONS` [10]: rotated files kept.
    pub audit_log_rotations: usize,
    /// `AUDIT_LOG_HEADERS`: request headers copied into audit lines (credentials never are).
    pub audit_log_headers: Vec<String>,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            protect_read: true,
            protect_write: true,
            dev_read_no_auth: false,
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()],
            max_body_bytes: 10 * 1024 * 1024,
            max_concurrency: 64,
            lockout_after: 10,
            lockout_base: Duration::from_secs(1),
            lockout_max: Duration::from_secs(60),
            trust_proxy: false,
            audit_log: true,
            audit_log_max_bytes: 50 * 1024 * 1024,
            audit_log_rotations: 10,
            audit_log_headers: vec!["x-client-id".into(), "x-client-version".into(), "x-forwarded-for".into()],
        }
    }
}

/// What the layers share: the settings and the state that outlives a request.
struct Guard {
    /// `false` with `ABSTRACTGATEWAY_SECURITY=0`: every gateway check is off.
    enabled: bool,
    auth: Arc<AuthConfig>,
    policy: SecurityPolicy,
    origins: origin::Allowlist,
    lockout: lockout::Lockout,
    in_flight: Arc<tokio::sync::Semaphore>,
    audit: Option<audit_log::AuditLog>,
    /// The upload route's own body cap.
    upload_cap: u64,
    env: Arc<dyn agw_domain::Env>,
}

impl Guard {
    fn new(state: &AppState) -> Self {
        let policy = state.config.security.clone();
        let enabled = state.auth.enabled;
        let audit = (enabled && policy.audit_log)
            .then(|| {
                audit_log::AuditLog::start(
                    state.data_dir.audit_log(),
                    policy.audit_log_max_bytes,
                    policy.audit_log_rotations,
                )
            })
            .flatten();
        Self {
            enabled,
            auth: state.auth.clone(),
            origins: origin::Allowlist::new(&policy.allowed_origins),
            lockout: lockout::Lockout::new(policy.lockout_after, policy.lockout_base, policy.lockout_max),
            in_flight: Arc::new(tokio::sync::Semaphore::new(policy.max_concurrency.max(1))),
            audit,
            upload_cap: state.config.max_upload_body_bytes,
            env: state.env.clone(),
            policy,
        }
    }

    /// Whether the gateway checks apply to a request for `path`.
    fn guards(&self, path: &str) -> bool {
        self.enabled && (path == GATEWAY_PREFIX || path.starts_with("/api/gateway/"))
    }
}

const GATEWAY_PREFIX: &str = "/api/gateway";

/// Wraps `router` in the security layers (see the module docs for the order). They wrap the
/// router as a whole, so each runs once per request whatever route, method or fallback
/// answers it.
pub(crate) fn layers(router: Router, state: &AppState) -> Router {
    let guard = Arc::new(Guard::new(state));
    // The reference compresses from 1 KiB; SSE must reach the client frame by frame.
    let gzip = CompressionLayer::new().compress_when(
        SizeAbove::new(1024).and(NotForContentType::GRPC).and(NotForContentType::IMAGES).and(NotForContentType::SSE),
    );
    let guarded = ServiceBuilder::new()
        .layer(from_fn_with_state(guard.clone(), cors::headers))
        .layer(gzip)
        .layer(from_fn_with_state(guard.clone(), audit::record))
        .layer(from_fn(close_after_refusal))
        .layer(from_fn_with_state(guard.clone(), origin::check))
        .layer(from_fn_with_state(guard.clone(), authenticate::check))
        .layer(from_fn_with_state(guard.clone(), body_limit::check))
        .layer(from_fn_with_state(guard, concurrency::limit))
        .service(router);
    Router::new().fallback_service(guarded)
}

/// How a method is treated: reads need `PROTECT_READ`, everything else but a preflight is
/// a write (an unknown method is refused like a write rather than waved through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    Options,
}

impl Access {
    fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD => Self::Read,
            Method::OPTIONS => Self::Options,
            _ => Self::Write,
        }
    }
}

/// A refusal as the reference's security layer writes it: `{"detail": ...}` in Python's
/// `json.dumps` format, `application/json; charset=utf-8`.
pub(crate) fn reject(status: StatusCode, detail: &str, extra: &[(HeaderName, HeaderValue)]) -> Response {
    let body = crate::pyjson::to_string(&serde_json::json!({ "detail": detail }));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    response.extensions_mut().insert(Refused);
    response
}

/// Marks an answer made by [`reject`]: the request's body, if any, was not read (or not to
/// its end).
#[derive(Debug, Clone, Copy)]
struct Refused;

/// hyper closes a connection whose request body was left unread rather than read a body no
/// one wants (a large one may still be arriving), but it does not say so: a keep-alive client
/// (httpx, `requests.Session`, `http.client`) would send its next request on that connection
/// and fail with "server disconnected". A refusal of a request with a body says
/// `Connection: close`, so the client opens a new connection; one without a body keeps its
/// connection.
async fn close_after_refusal(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).is_some_and(|length| length.as_bytes() != b"0");
    let mut response = next.run(request).await;
    if has_body && response.extensions().get::<Refused>().is_some() {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
