//! Bearer-token authentication for `/api/gateway/*`.
//!
//! A token comes from `Authorization: Bearer`, or from `?access_token=` on reads (browsers'
//! EventSource cannot set headers). Tokens are compared in constant time.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

/// The configured tokens. With `enabled`, an empty list means nothing can authenticate.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub tokens: Vec<String>,
    /// `false` only with `ABSTRACTGATEWAY_SECURITY=0`.
    pub enabled: bool,
}

impl AuthConfig {
    fn accepts(&self, presented: &str) -> bool {
        // Check every token so the time taken does not depend on which one matched.
        self.tokens.iter().fold(false, |ok, t| ok | bool::from(t.as_bytes().ct_eq(presented.as_bytes())))
    }
}

fn presented_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    if bearer.is_some() {
        return bearer;
    }
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_read {
        return None;
    }
    url_query_value(request.uri(), "access_token")
}

/// One value of a query string, percent-decoded.
pub(crate) fn url_query_value(uri: &axum::http::Uri, key: &str) -> Option<String> {
    let axum::extract::Query(mut pairs) =
        axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(uri).ok()?;
    pairs.remove(key)
}

/// Rejects requests without a valid token with the reference's 401.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.auth.enabled {
        return next.run(request).await;
    }
    match presented_token(&request) {
        Some(token) if state.auth.accepts(&token) => next.run(request).await,
        _ => {
            let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly() {
        let auth = AuthConfig { tokens: vec!["alpha".into(), "beta".into()], enabled: true };
        assert!(auth.accepts("beta"));
        assert!(!auth.accepts("bet"));
        assert!(!auth.accepts(""));
        assert!(!AuthConfig::default().accepts(""));
    }

    #[test]
    fn query_values_are_decoded() {
        let uri: axum::http::Uri = "/x?after=2&access_token=a%2Bb%3D".parse().expect("uri");
        assert_eq!(url_query_value(&uri, "access_token").as_deref(), Some("a+b="));
        assert_eq!(url_query_value(&uri, "missing"), None);
    }
}
