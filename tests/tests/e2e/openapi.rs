//! `GET /openapi.json` and `GET /docs`: the document is valid OpenAPI 3.1, it lists exactly
//! the routes the gateway answers, and both are public.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, TOKEN, TestGateway};

/// The methods a path item may document (HEAD is answered by every GET route).
pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The routes the gateway serves, as the contract lists them: the document must list exactly
/// these, so a route added to the router without documentation, or documented without a
/// route, fails here as well as in the probes below.
const SERVED: &[(&str, &str)] = &[
    ("get", "/api/health"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/"),
    ("get", "/api/gateway/ping"),
    ("get", "/api/gateway/me"),
    ("get", "/api/gateway/bundles"),
    ("post", "/api/gateway/bundles/upload"),
    ("post", "/api/gateway/bundles/reload"),
    ("get", "/api/gateway/bundles/{bundle_id}"),
    ("delete", "/api/gateway/bundles/{bundle_id}"),
    ("get", "/api/gateway/bundles/{bundle_id}/flows/{flow_id}"),
    ("get", "/api/gateway/bundles/{bundle_id}/flows/{flow_id}/input_schema"),
    ("get", "/api/gateway/runs"),
    ("post", "/api/gateway/runs/start"),
    ("post", "/api/gateway/runs/schedule"),
    ("post", "/api/gateway/runs/ledger/batch"),
    ("get", "/api/gateway/runs/{run_id}"),
    ("get", "/api/gateway/runs/{run_id}/ledger"),
    ("get", "/api/gateway/runs/{run_id}/ledger/stream"),
    ("get", "/api/gateway/runs/{run_id}/input_data"),
    ("get", "/api/gateway/runs/{run_id}/history_bundle"),
    ("get", "/api/gateway/runs/{run_id}/artifacts"),
    ("get", "/api/gateway/runs/{run_id}/artifacts/{artifact_id}"),
    ("get", "/api/gateway/runs/{run_id}/artifacts/{artifact_id}/content"),
    ("post", "/api/gateway/commands"),
    ("get", "/api/gateway/plugins"),
    ("get", "/api/gateway/plugins/{name}"),
    ("get", "/api/gateway/discovery/capabilities"),
    ("get", "/api/gateway/discovery/providers"),
    ("get", "/api/gateway/discovery/providers/{provider_name}/models"),
];

/// The body axum's fallback gives an unrouted path (and a wrong method, with 405).
fn is_fallback(status: StatusCode, body: &Value) -> bool {
    (status == StatusCode::NOT_FOUND && body == &json!({"detail": "Not Found"}))
        || status == StatusCode::METHOD_NOT_ALLOWED
}

/// Fetches the document without a token.
pub async fn fetch_document(gw: &TestGateway) -> Value {
    let response = gw.client.get(gw.url("/openapi.json")).send().await.expect("GET /openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("the document is JSON")
}

/// Every `(method, path)` the document lists.
pub fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.insert((method.to_owned(), path.clone()));
            }
        }
    }
    operations
}

/// `path` with each `{param}` replaced by a value no resource has.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "no-such-thing" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(gw: &TestGateway, method: &str, path: &str) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
    let mut request = gw.client.request(method.clone(), gw.url(path)).bearer_auth(TOKEN);
    if method != Method::GET && method != Method::DELETE {
        request = request.json(&json!({}));
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_3_1() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let document = fetch_document(&gw).await;
    let schema_path = common::repo().join("tests/data/openapi/oas-3.1-schema.json");
    let schema: Value =
        serde_json::from_slice(&std::fs::read(&schema_path).expect("the vendored OpenAPI 3.1 schema")).expect("JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the OpenAPI 3.1 schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&document).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1: {errors:#?}");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "{}", document["openapi"]);

    // The gateway routes need a bearer token (reads may use `?access_token=`); public ones none.
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"], json!({"type": "http", "scheme": "bearer"}));
    assert_eq!(schemes["access_token"]["in"], "query");
    for (method, path) in operations(&document) {
        let operation = &document["paths"][&path][&method];
        let security = operation["security"].as_array().map(Vec::as_slice).unwrap_or_default();
        let names: Vec<&str> =
            security.iter().filter_map(|s| s.as_object()?.keys().next().map(String::as_str)).collect();
        if path.starts_with("/api/gateway/") {
            let expected: &[&str] = if method == "get" { &["bearer", "access_token"] } else { &["bearer"] };
            assert_eq!(names, expected, "{method} {path}");
            assert!(operation["responses"]["401"].is_object(), "{method} {path} lists no 401");
        } else {
            assert!(names.is_empty(), "{method} {path} is public");
        }
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routed_operations() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let document = fetch_document(&gw).await;
    let documented = operations(&document);
    let served: BTreeSet<(String, String)> =
        SERVED.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
    assert_eq!(documented, served, "the document and the served routes differ");

    for (method, path) in &documented {
        // A documented operation reaches a handler: whatever it answers, not the fallback.
        let (status, body) = send(&gw, method, &concrete(path)).await;
        assert!(!is_fallback(status, &body), "{method} {path} is documented but not routed: {status} {body}");
        // A method the document does not list for a routed path is not routed either.
        for other in METHODS {
            if documented.contains(&(other.to_owned(), path.clone())) {
                continue;
            }
            let (status, body) = send(&gw, other, &concrete(path)).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{other} {path} is routed but not documented: {body}");
        }
    }
    // Routes of the reference this gateway does not serve are neither routed nor documented.
    for path in ["/api/gateway/about", "/api/gateway/admin/users", "/api/gateway/audit/tail"] {
        let (status, body) = send(&gw, "get", path).await;
        assert!(is_fallback(status, &body), "{path} answers {status} {body}");
        assert!(document["paths"].get(path).is_none(), "{path} is documented");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_swagger_ui_are_public_even_with_a_token_configured() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let anonymous = reqwest::Client::new();

    let response = anonymous.get(gw.url("/openapi.json")).send().await.expect("GET /openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.expect("JSON");
    assert_eq!(document["info"]["title"], "AbstractGateway");

    // `/docs` redirects to `/docs/`, the page; reqwest follows.
    let response = anonymous.get(gw.url("/docs")).send().await.expect("GET /docs");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.url().path(), "/docs/");
    let page = response.text().await.expect("page");
    assert!(page.contains("swagger-ui"), "not the Swagger UI page: {page}");
    // The page's initializer loads our document, from the binary's own assets.
    let response = anonymous.get(gw.url("/docs/swagger-initializer.js")).send().await.expect("initializer");
    assert_eq!(response.status(), StatusCode::OK);
    let initializer = response.text().await.expect("initializer");
    assert!(initializer.contains("/openapi.json"), "Swagger UI does not load /openapi.json: {initializer}");
    let response = anonymous.get(gw.url("/docs/swagger-ui-bundle.js")).send().await.expect("bundle");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.expect("bundle").len() > 100_000, "the Swagger UI bundle is served");

    // The gateway routes still need the token.
    let response = anonymous.get(gw.url("/api/gateway/ping")).send().await.expect("GET /ping");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    gw.stop().await;
}
