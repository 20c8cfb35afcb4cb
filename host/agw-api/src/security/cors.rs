//! CORS for the allowed origins (file/53, 54, 63), on every path.
//!
//! A preflight from an allowed origin is answered here with the reference's headers. A
//! preflight from any other origin is not approved: it goes on to the origin check, which
//! refuses it (403) under `/api/gateway` (the reference approves every origin's preflight).
//! Other answers get `vary: Origin`, and for an allowed origin the headers that let the page
//! read them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Guard;

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";
const METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY";

pub(super) async fn headers(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allowed = origin.filter(|o| o.to_str().is_ok_and(|o| guard.origins.allows(o)));
    if let Some(origin) = &allowed
        && request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(origin, request.headers());
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    vary_origin(headers);
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("*"));
    }
    response
}

/// The answer to a preflight from an allowed origin, as Starlette's `CORSMiddleware` with
/// every method and header allowed writes it: 200 `OK`, or 400 naming what is not allowed.
fn preflight(origin: &HeaderValue, request: &HeaderMap) -> Response {
    let method_ok = request
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| METHODS.split(", ").any(|allowed| allowed == m));
    let private_network = request.contains_key("access-control-request-private-network");
    let failures: Vec<&str> = [(!method_ok).then_some("method"), private_network.then_some("private-network")]
        .into_iter()
        .flatten()
        .collect();
    let (status, body) = if failures.is_empty() {
        (StatusCode::OK, "OK".to_owned())
    } else {
        (StatusCode::BAD_REQUEST, format!("Disallowed CORS {}", failures.join(", ")))
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// One `vary` header starting with `Origin`, keeping what inner layers said
/// (`Origin, Accept-Encoding` on a gzipped answer, as the reference writes it).
fn vary_origin(headers: &mut HeaderMap) {
    let mut names = vec!["Origin".to_owned()];
    for value in headers.get_all(header::VARY) {
        for name in value.to_str().unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(title_case(name));
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        headers.insert(header::VARY, value);
    }
}

/// `accept-encoding` → `Accept-Encoding`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_keeps_inner_names_after_origin() {
        let mut headers = HeaderMap::new();
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        vary_origin(&mut headers);
        assert_eq!(headers.get_all(header::VARY).iter().collect::<Vec<_>>(), ["Origin, Accept-Encoding"]);
        vary_origin(&mut headers);
        assert_eq!(headers[header::VARY], "Origin, Accept-Encoding");
    }
}
