//! `GET /ping` (a client's connection check) and `GET /me` (who the token is), behind the
//! same authentication as every gateway route (transcripts file/02, 04, 57).

use axum::Json;
use axum::extract::{Extension, State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::security::{Outcome, Principal};

/// `GET /ping`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ping {
    /// Always true.
    pub ok: bool,
    /// Always `healthy`.
    pub status: String,
    /// Always `abstractgateway`.
    pub service: String,
    /// The gateway's clock, ISO 8601.
    pub time: String,
}

/// A connection check that needs a token.
#[utoipa::path(
    get,
    path = "/ping",
    tag = "identity",
    summary = "Connection check",
    responses((status = 200, description = "The gateway answers", body = Ping)),
)]
pub async fn ping(State(state): State<AppState>) -> Json<Ping> {
    Json(Ping { ok: true, status: "healthy".into(), service: "abstractgateway".into(), time: state.app.now_iso() })
}

/// `GET /me`: who the request acts as.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Always true.
    pub ok: bool,
    pub principal: PrincipalView,
    pub auth: AuthView,
    pub routing: RoutingView,
}

/// Who a request acts as.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalView {
    /// `admin` for a shared token.
    pub user_id: String,
    pub tenant_id: String,
    pub roles: Vec<String>,
    /// `["*"]` for a shared token.
    pub scopes: Vec<String>,
    /// `sha256(token)[:12]` of the presented token.
    #[schema(required = true)]
    pub token_fingerprint: Option<String>,
    pub runtime_id: String,
    /// `legacy-token` for a shared token, `loopback` for a `DEV_READ_NO_AUTH` read.
    pub source: String,
    pub admin: bool,
}

/// How the gateway authenticates.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthView {
    /// Always `legacy-token`.
    pub mode: String,
    /// Always false: there are no user accounts.
    pub user_auth_enabled: bool,
}

/// How requests reach a data plane.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutingView {
    /// Always `single-user`.
    pub mode: String,
    pub one_user_one_runtime: bool,
}

/// The shared tokens are the operator (`source: "legacy-token"`), as in the reference's
/// token mode; there are no user accounts. A loopback read let in by `DEV_READ_NO_AUTH`
/// is no one's and may do nothing but read. With security off there is no outcome: the
/// operator, without a token.
#[utoipa::path(
    get,
    path = "/me",
    tag = "identity",
    summary = "Who the token is",
    responses((status = 200, description = "The principal", body = Me)),
)]
pub async fn me(outcome: Option<Extension<Outcome>>) -> Json<Me> {
    let (principal, token_fp) = match outcome {
        Some(Extension(outcome)) => (outcome.principal.unwrap_or(Principal::OPERATOR), outcome.token_fp),
        None => (Principal::OPERATOR, None),
    };
    let admin = principal == Principal::OPERATOR;
    let strings = |items: &[&str]| items.iter().map(|&s| s.to_owned()).collect::<Vec<_>>();
    let (roles, scopes, source) = if admin {
        (strings(&["admin", "user"]), strings(&["*"]), "legacy-token")
    } else {
        (Vec::new(), Vec::new(), "loopback")
    };
    Json(Me {
        ok: true,
        principal: PrincipalView {
            user_id: principal.user_id.into(),
            tenant_id: principal.tenant_id.into(),
            roles,
            scopes,
            token_fingerprint: token_fp,
            runtime_id: "default".into(),
            source: source.into(),
            admin,
        },
        auth: AuthView { mode: "legacy-token".into(), user_auth_enabled: false },
        routing: RoutingView { mode: "single-user".into(), one_user_one_runtime: false },
    })
}
