//! `GET /ping` (a client's connection check) and `GET /me` (who the token is), behind the
//! same authentication as every gateway route (transcripts file/02, 04, 57).

use axum::Json;
use axum::extract::{Extension, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::security::{Outcome, Principal};

pub async fn ping(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "ok": true, "status": "healthy", "service": "abstractgateway", "time": state.env.now_iso() }))
}

/// The shared tokens are the operator (`source: "legacy-token"`), as in the reference's
/// token mode; there are no user accounts. A loopback read let in by `DEV_READ_NO_AUTH`
/// is no one's and may do nothing but read. With security off there is no outcome: the
/// operator, without a token.
pub async fn me(outcome: Option<Extension<Outcome>>) -> Json<Value> {
    let (principal, token_fp) = match outcome {
        Some(Extension(outcome)) => (outcome.principal.unwrap_or(Principal::OPERATOR), outcome.token_fp),
        None => (Principal::OPERATOR, None),
    };
    let admin = principal == Principal::OPERATOR;
    let (roles, scopes, source) = if admin {
        (json!(["admin", "user"]), json!(["*"]), "legacy-token")
    } else {
        (json!([]), json!([]), "loopback")
    };
    Json(json!({
        "ok": true,
        "principal": {
            "user_id": principal.user_id,
            "tenant_id": principal.tenant_id,
            "roles": roles,
            "scopes": scopes,
            "token_fingerprint": token_fp,
            "runtime_id": "default",
            "source": source,
            "admin": admin,
        },
        "auth": { "mode": "legacy-token", "user_auth_enabled": false },
        "routing": { "mode": "single-user", "one_user_one_runtime": false },
    }))
}
