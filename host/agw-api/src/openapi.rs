//! The contract made explicit: `GET /openapi.json` (OpenAPI 3.1, generated from the same
//! route table that builds the router, so neither can list a route the other lacks) and
//! `GET /docs` (Swagger UI, its assets compiled into the binary).
//!
//! What the handlers' `#[utoipa::path]` attributes cannot know is added here, in one place,
//! from the same rule the security layers apply: every `/api/gateway` operation needs a
//! bearer token (or `?access_token=` on a read) and may be refused with 401, 403, 429, 503
//! and, with a body, 413. `/api/health`, `/openapi.json` and `/docs` are public.

use axum::body::Bytes;
use axum::extract::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response as DocResponse, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{ApiConfig, AppState, routes as api_routes};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";
/// The prefix of every authenticated route.
const GATEWAY_PREFIX: &str = "/api/gateway";
/// The schema of a refusal's body.
const ERROR_SCHEMA: &str = "ErrorDetail";
/// The bearer-token security scheme's name in the document.
const BEARER: &str = "bearer";
/// The `?access_token=` security scheme's name in the document (reads only).
const QUERY_TOKEN: &str = "access_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AbstractGateway",
        description = "HTTP/SSE gateway for durable workflow runs. Every route under `/api/gateway` \
                       needs a bearer token (reads also accept `?access_token=`); refusals are \
                       `{\"detail\": ...}` (`ErrorDetail`, or `ValidationError` for a 422).",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(
        crate::schema::ErrorDetail,
        crate::schema::ValidationError,
        crate::replay_views::CursorRecord,
        crate::routes::DoneFrame,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "health", description = "Public health check"),
        (name = "identity", description = "Connection check and who the token is"),
        (name = "bundles", description = "The bundle catalog"),
        (name = "runs", description = "Starting runs and reading their state"),
        (name = "ledger", description = "The append-only step records of a run, paged or streamed"),
        (name = "artifacts", description = "What runs produced"),
        (name = "commands", description = "The durable command inbox"),
        (name = "plugins", description = "Loaded plugins"),
        (name = "discovery", description = "What this deployment can do"),
        (name = "docs", description = "This document and its viewer (public)"),
    ),
)]
struct ApiDoc;

/// Declares the two ways to present a token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            QUERY_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "The token as a query parameter, for EventSource clients; reads (GET, HEAD) only.",
            ))),
        );
    }
}

/// The document as served: serialized once, shared by every request.
#[derive(Clone)]
struct ServedDocument(Bytes);

/// The OpenAPI 3.1 document of this gateway.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
async fn openapi_json(Extension(document): Extension<ServedDocument>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document.0).into_response()
}

/// Every route with its documentation: `(router, document)`. The router has no state yet
/// and no security layers; [`crate::router`] adds both.
pub(crate) fn assemble(
    config: &ApiConfig,
    body_cap: axum::extract::DefaultBodyLimit,
) -> (axum::Router<AppState>, Document) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(GATEWAY_PREFIX, api_routes::gateway_routes(config).layer(body_cap))
        .merge(api_routes::public_routes())
        .routes(routes!(openapi_json))
        .split_for_parts();
    document_docs_page(&mut document);
    document_gateway_guards(&mut document);
    // Serializing maps with string keys cannot fail; were it to, the log says why and the
    // route serves an empty object rather than no route at all.
    let served = match document.to_json() {
        Ok(json) => ServedDocument(Bytes::from(json)),
        Err(error) => {
            tracing::error!(%error, "cannot serialize the OpenAPI document");
            ServedDocument(Bytes::from_static(b"{}"))
        }
    };
    // Swagger UI only: it loads the document from `/openapi.json`, served above.
    let swagger = SwaggerUi::new(DOCS_PATH).config(Config::from(OPENAPI_PATH));
    (router.merge(swagger).layer(Extension(served)), document)
}

/// The document alone, for tests and tools.
pub fn document(config: &ApiConfig) -> Document {
    assemble(config, axum::extract::DefaultBodyLimit::disable()).1
}

/// `/docs` is Swagger UI's (it redirects to `/docs/`, which serves the page); it is listed so
/// that the document names every route the gateway answers.
fn document_docs_page(document: &mut Document) {
    let page = |description: &str, status: &str, response: DocResponse| {
        OperationBuilder::new().tag("docs").summary(Some(description)).response(status, response).build()
    };
    let redirect = ResponseBuilder::new().description("Redirects to `/docs/`").build();
    let html = ResponseBuilder::new()
        .description("The Swagger UI page, which loads `/openapi.json`")
        .content("text/html", ContentBuilder::new().build())
        .build();
    let paths = &mut document.paths.paths;
    paths.insert(DOCS_PATH.into(), PathItem::new(HttpMethod::Get, page("Swagger UI", "303", redirect)));
    paths.insert(format!("{DOCS_PATH}/"), PathItem::new(HttpMethod::Get, page("Swagger UI", "200", html)));
}

/// A response whose body is `schema`.
fn refusal(description: &str, schema: &str) -> RefOr<DocResponse> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build()
        .into()
}

/// Applies the security layers' rules to every `/api/gateway` operation.
fn document_gateway_guards(document: &mut Document) {
    for (path, item) in document.paths.paths.iter_mut() {
        if !(path == GATEWAY_PREFIX || path.starts_with("/api/gateway/")) {
            continue;
        }
        let operations = [
            (&mut item.get, true),
            (&mut item.head, true),
            (&mut item.post, false),
            (&mut item.put, false),
            (&mut item.patch, false),
            (&mut item.delete, false),
        ];
        for (operation, read) in operations {
            if let Some(operation) = operation.as_mut() {
                guard(operation, read);
            }
        }
    }
}

/// One guarded operation: its security requirements and the layers' refusals.
fn guard(operation: &mut Operation, read: bool) {
    let mut security = vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])];
    if read {
        security.push(SecurityRequirement::new::<_, _, &str>(QUERY_TOKEN, []));
    }
    operation.security = Some(security);
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| refusal(description, ERROR_SCHEMA));
    };
    add("401", "No credential, or an invalid one (`www-authenticate: Bearer`)");
    add("403", "An `Origin` header not on the allowlist");
    add("429", "Locked out after repeated invalid credentials, or over the concurrency cap (`retry-after`)");
    add("503", "Authentication required but no token configured");
    if operation.request_body.is_some() {
        add("413", "The body is over the size cap");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document_json() -> Value {
        serde_json::to_value(document(&ApiConfig::default())).expect("the document serializes")
    }

    #[test]
    fn gateway_operations_carry_the_security_layers_refusals() {
        let doc = document_json();
        let start = &doc["paths"]["/api/gateway/runs/start"]["post"];
        assert_eq!(start["security"], serde_json::json!([{"bearer": []}]));
        for status in ["400", "401", "403", "404", "413", "422", "429", "503"] {
            assert!(start["responses"][status].is_object(), "POST /runs/start lists no {status}");
        }
        let run = &doc["paths"]["/api/gateway/runs/{run_id}"]["get"];
        assert_eq!(run["security"], serde_json::json!([{"bearer": []}, {"access_token": []}]));
        assert!(run["responses"]["413"].is_null(), "a read without a body lists 413");
        // The SSE route's own 429 (its stream cap) is kept, not replaced.
        let stream = &doc["paths"]["/api/gateway/runs/{run_id}/ledger/stream"]["get"];
        assert!(stream["responses"]["429"]["description"].as_str().is_some_and(|d| d.contains("SSE")));
        let health = &doc["paths"]["/api/health"]["get"];
        assert!(health["security"].is_null() && health["responses"]["401"].is_null(), "health is public");
    }

    #[test]
    fn refusals_reference_the_error_schemas() {
        let doc = document_json();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["ErrorDetail"]["required"], serde_json::json!(["detail"]));
        assert_eq!(schemas["ValidationIssue"]["required"], serde_json::json!(["type", "loc", "msg", "input"]));
        let not_found = &doc["paths"]["/api/gateway/runs/{run_id}"]["get"]["responses"]["404"];
        assert_eq!(not_found["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorDetail");
        let invalid = &doc["paths"]["/api/gateway/runs/start"]["post"]["responses"]["422"];
        assert_eq!(invalid["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ValidationError");
    }
}
