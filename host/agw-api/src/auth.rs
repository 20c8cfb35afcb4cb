//! Bearer tokens for `/api/gateway/*`: the configured tokens and where a request presents
//! one. The decision (who needs a token, 401, lockout) is `security::authenticate`'s.
//!
//! A token comes from `Authorization: Bearer`, or from `?access_token=` on reads (browsers'
//! EventSource cannot set headers). Tokens are compared in constant time.

use axum::extract::Request;
use axum::http::{Method, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The configured tokens. With `enabled`, an empty list means nothing can authenticate.
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub tokens: Vec<String>,
    /// `false` only with `ABSTRACTGATEWAY_SECURITY=0`.
    pub enabled: bool,
}

/// Tokens print as `***`: a `{:?}` of the state must not leak them into a log.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("tokens", &vec![format_args!("***"); self.tokens.len()])
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl AuthConfig {
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        // Compare digests, so the time taken reveals neither a token's length nor its prefix,
        // and check every token, so it does not depend on which one matched.
        let presented = Sha256::digest(presented.as_bytes());
        self.tokens.iter().fold(false, |ok, t| ok | bool::from(Sha256::digest(t.as_bytes()).ct_eq(&presented)))
    }
}

/// The token a request presents: `Authorization: Bearer <token>` (scheme in any case), else
/// `?access_token=` on a read. Writes keep to the header.
pub(crate) fn presented_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("bearer ")).map(|_| &v[7..]))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    if bearer.is_some() {
        return bearer;
    }
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_read {
        return None;
    }
    url_query_value(request.uri(), "access_token").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// One value of a query string, percent-decoded.
pub(crate) fn url_query_value(uri: &axum::http::Uri, key: &str) -> Option<String> {
    let axum::extract::Query(mut pairs) =
        axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(uri).ok()?;
    pairs.remove(key)
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
    fn debug_hides_the_tokens() {
        let auth = AuthConfig { tokens: vec!["alpha-s3cret".into()], enabled: true };
        assert_eq!(format!("{auth:?}"), "AuthConfig { tokens: [***], enabled: true }");
    }

    #[test]
    fn bearer_scheme_in_any_case_and_query_tokens_on_reads_only() {
        let request = |method: &str, uri: &str, auth: Option<&str>| {
            let mut builder = Request::builder().method(method).uri(uri);
            if let Some(value) = auth {
                builder = builder.header(header::AUTHORIZATION, value);
            }
            builder.body(axum::body::Body::empty()).expect("request")
        };
        assert_eq!(presented_token(&request("GET", "/x", Some("BEARER  tok "))).as_deref(), Some("tok"));
        assert_eq!(presented_token(&request("GET", "/x?access_token=q", Some("Bearer "))).as_deref(), Some("q"));
        assert_eq!(presented_token(&request("POST", "/x?access_token=q", None)), None);
        assert_eq!(presented_token(&request("GET", "/x", Some("Basic abc"))), None);
    }

    #[test]
    fn query_values_are_decoded() {
        let uri: axum::http::Uri = "/x?after=2&access_token=a%2Bb%3D".parse().expect("uri");
        assert_eq!(url_query_value(&uri, "access_token").as_deref(), Some("a+b="));
        assert_eq!(url_query_value(&uri, "missing"), None);
    }
}
