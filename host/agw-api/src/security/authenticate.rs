//! Rules 2–5: which requests need a token, the 503 when none is configured, the 401, and the
//! lockout's 429 for an IP that keeps presenting invalid credentials.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::client::Client;
use super::{Access, Guard, reject};
use crate::auth::presented_token;

/// Who a request acts as. The static tokens are the operator, as in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Principal {
    pub user_id: &'static str,
    pub tenant_id: &'static str,
}

impl Principal {
    pub(crate) const OPERATOR: Self = Self { user_id: "admin", tenant_id: "default" };
    const LOOPBACK_READER: Self = Self { user_id: "loopback-readonly", tenant_id: "local" };
}

/// What authentication decided: in the request's extensions for the routes (`GET /me`), in
/// the response's for the audit log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub required: bool,
    /// `sha256(token)[:12]` of a presented token: the only trace of it anywhere.
    pub token_fp: Option<String>,
    pub principal: Option<Principal>,
}

pub(super) fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

pub(super) async fn check(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let access = Access::of(request.method());
    if !guard.guards(request.uri().path()) || access == Access::Options {
        return next.run(request).await;
    }
    let policy = &guard.policy;
    let client = Client::of(&request, policy.trust_proxy);
    let dev_read = access == Access::Read && policy.dev_read_no_auth && client.loopback;
    let required = match access {
        Access::Read => policy.protect_read && !dev_read,
        _ => policy.protect_write,
    };
    let mut outcome = Outcome { required, ..Outcome::default() };
    let mut response = if !required {
        outcome.principal = Some(if dev_read { Principal::LOOPBACK_READER } else { Principal::OPERATOR });
        request.extensions_mut().insert(outcome.clone());
        next.run(request).await
    } else if guard.auth.tokens.is_empty() {
        // `serve` refuses to start like this; a gateway assembled some other way still
        // must not answer.
        reject(StatusCode::SERVICE_UNAVAILABLE, "Gateway auth required but no token configured", &[])
    } else {
        match presented_token(&request) {
            None => unauthorized(),
            Some(token) => {
                outcome.token_fp = Some(fingerprint(&token));
                if guard.auth.accepts(&token) {
                    guard.lockout.clear(&client.ip);
                    outcome.principal = Some(Principal::OPERATOR);
                    request.extensions_mut().insert(outcome.clone());
                    next.run(request).await
                } else {
                    match guard.lockout.fail(&client.ip, Instant::now()) {
                        Some(wait) => reject(
                            StatusCode::TOO_MANY_REQUESTS,
                            "Too Many Requests (auth lockout)",
                            &[(header::RETRY_AFTER, HeaderValue::from(wait))],
                        ),
                        None => unauthorized(),
                    }
                }
            }
        }
    };
    response.extensions_mut().insert(outcome);
    response
}

fn unauthorized() -> Response {
    const BEARER: (HeaderName, HeaderValue) = (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    reject(StatusCode::UNAUTHORIZED, "Unauthorized", &[BEARER])
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_is_the_first_twelve_hex_of_sha256() {
        // sha256("test-token") = 4c5dc9b7708905f77f5e5d16316b5dfb425e68cb326dcd55a860e90a7707031e
        assert_eq!(super::fingerprint("test-token"), "4c5dc9b77089");
    }
}
