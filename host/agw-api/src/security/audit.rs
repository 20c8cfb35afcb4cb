//! Rule 8: one JSON line per write request to `<data>/audit_log.jsonl`, rejected ones
//! included (401, 403, 413, 429), with the reference's fields (file2/32).
//!
//! Query values are replaced by `<redacted>` and credentials never appear: a presented token
//! only as `auth_token_fp`, the first 12 hex digits of its SHA-256.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value};

use super::authenticate::Outcome;
use super::client::Client;
use super::{Access, Guard};

/// Headers that carry credentials: never copied into a line, whatever `AUDIT_LOG_HEADERS` says.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

#[derive(Debug, Serialize)]
struct Line {
    ts: String,
    request_id: String,
    ip: String,
    method: String,
    path: String,
    query: String,
    status: u16,
    duration_ms: u64,
    auth_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_token_fp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_user_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_tenant_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_in: Option<u64>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    headers: Map<String, Value>,
}

pub(super) async fn record(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let Some(log) = guard
        .audit
        .as_ref()
        .filter(|_| guard.guards(request.uri().path()) && Access::of(request.method()) == Access::Write)
    else {
        return next.run(request).await;
    };
    let started = Instant::now();
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut line = Line {
        ts: String::new(),
        request_id: text("x-request-id").unwrap_or_default(),
        ip: Client::of(&request, guard.policy.trust_proxy).ip,
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: redact_query(request.uri().query().unwrap_or_default()),
        status: 0,
        duration_ms: 0,
        auth_required: false,
        auth_token_fp: None,
        principal_user_id: None,
        principal_tenant_id: None,
        origin: text(header::ORIGIN.as_str()).filter(|o| !o.is_empty()),
        user_agent: text(header::USER_AGENT.as_str()).filter(|o| !o.is_empty()),
        bytes_in: text(header::CONTENT_LENGTH.as_str()).and_then(|v| v.trim().parse().ok()),
        headers: copied_headers(headers, &guard.policy.audit_log_headers),
    };
    let response = next.run(request).await;
    line.ts = guard.env.now_iso();
    line.status = response.status().as_u16();
    line.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Some(outcome) = response.extensions().get::<Outcome>() {
        line.auth_required = outcome.required;
        line.auth_token_fp.clone_from(&outcome.token_fp);
        line.principal_user_id = outcome.principal.map(|p| p.user_id);
        line.principal_tenant_id = outcome.principal.map(|p| p.tenant_id);
    }
    match serde_json::to_string(&line) {
        Ok(json) => log.append(json),
        Err(error) => tracing::error!(%error, "cannot serialize an audit line"),
    }
    response
}

/// `a=1&token=x` → `a=<redacted>&token=<redacted>`: the keys say what was asked, values may
/// be secrets. At most 50 keys, as the reference.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .filter_map(|pair| pair.split('=').next().map(str::trim).filter(|k| !k.is_empty()))
        .take(50)
        .map(|key| format!("{key}=<redacted>"))
        .collect::<Vec<_>>()
        .join("&")
}

fn copied_headers(headers: &HeaderMap, names: &[String]) -> Map<String, Value> {
    names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !SECRET_HEADERS.contains(&n.as_str()))
        .filter_map(|n| {
            let value = headers.get(n.as_str())?.to_str().ok()?.to_owned();
            Some((n, Value::String(value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_redacted() {
        assert_eq!(redact_query(""), "");
        assert_eq!(
            redact_query("access_token=s3cret&after=2&&flag"),
            "access_token=<redacted>&after=<redacted>&flag=<redacted>"
        );
    }

    #[test]
    fn credentials_are_never_copied() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().expect("value"));
        headers.insert("x-client-id", "console".parse().expect("value"));
        let names = vec!["Authorization".to_owned(), "x-client-id".to_owned(), "x-missing".to_owned()];
        assert_eq!(Value::Object(copied_headers(&headers, &names)), serde_json::json!({"x-client-id": "console"}));
    }
}
