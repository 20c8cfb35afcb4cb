//! A run's artifacts: the list, one artifact's metadata, and its bytes.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};

use crate::query::Query;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use agw_store::ArtifactMeta;

use crate::AppState;
use crate::artifact_views::{self, ArtifactItem};
use crate::error::{ApiError, ApiResult};
use crate::schema::{ErrorDetail, ValidationError};

/// Default page size, as the reference's.
const DEFAULT_LIMIT: i64 = 500;

/// Which page of a run's artifacts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page (default 500; 0 or -1: all).
    #[param(minimum = -1)]
    limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// `GET /runs/{id}/artifacts`: one page of a run's artifacts, most recent first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub items: Vec<ArtifactItem>,
    /// Artifacts of the run.
    pub total: usize,
    pub offset: usize,
    pub limit: i64,
    pub has_more: bool,
    /// Always null.
    #[schema(required = true)]
    pub cursor: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub facets: Map<String, Value>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub stats: Map<String, Value>,
    /// Always empty.
    pub warnings: Vec<Value>,
}

#[utoipa::path(
    get,
    path = "/runs/{run_id}/artifacts",
    tag = "artifacts",
    summary = "A run's artifacts, most recent first",
    params(("run_id" = String, Path, description = "The run"), ListQuery),
    responses(
        (status = 200, description = "One page of artifacts", body = ArtifactList),
        (status = 404, description = "No such run", body = ErrorDetail),
        (status = 422, description = "`limit` < -1, `offset` < 0, or a value that does not parse", body = ValidationError),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<ArtifactList>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let offset = query.offset.unwrap_or(0);
    if limit < -1 || offset < 0 {
        let (loc, ge, input) = if limit < -1 { ("limit", -1, limit) } else { ("offset", 0, offset) };
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "type": "greater_than_equal", "loc": ["query", loc],
                             "msg": format!("Input should be greater than or equal to {ge}"),
                             "input": input.to_string(), "ctx": {"ge": ge} }]),
        });
    }
    let mut items: Vec<ArtifactMeta> = state.call(move |app| app.artifacts(&run_id)).await?;
    // Most recent first.
    items.reverse();
    let total = items.len();
    let offset = offset as usize;
    // 0 or -1: no limit.
    let page_size = if limit <= 0 { total } else { limit as usize };
    let page: Vec<ArtifactItem> =
        items.iter().skip(offset).take(page_size).map(artifact_views::artifact_item).collect();
    Ok(Json(ArtifactList {
        has_more: offset.saturating_add(page.len()) < total,
        items: page,
        total,
        offset,
        limit,
        cursor: None,
        next_cursor: None,
        facets: Map::new(),
        stats: Map::new(),
        warnings: Vec::new(),
    }))
}

#[utoipa::path(
    get,
    path = "/runs/{run_id}/artifacts/{artifact_id}",
    tag = "artifacts",
    summary = "One artifact's metadata",
    params(
        ("run_id" = String, Path, description = "The run"),
        ("artifact_id" = String, Path, description = "The artifact"),
    ),
    responses(
        (status = 200, description = "The artifact", body = ArtifactItem),
        (status = 400, description = "A malformed artifact id", body = ErrorDetail),
        (status = 404, description = "No such run or artifact", body = ErrorDetail),
    ),
)]
pub async fn metadata(
    State(state): State<AppState>,
    Path((run_id, artifact_id)): Path<(String, String)>,
) -> ApiResult<Json<ArtifactItem>> {
    let meta = state.call(move |app| app.artifact_meta(&run_id, &artifact_id)).await?;
    Ok(Json(artifact_views::artifact_item(&meta)))
}

/// The bytes, with the stored content type. Served so a browser never runs them as a page
/// of this origin: `CSP: sandbox` and `nosniff`, as the reference does.
#[utoipa::path(
    get,
    path = "/runs/{run_id}/artifacts/{artifact_id}/content",
    tag = "artifacts",
    summary = "An artifact's bytes",
    params(
        ("run_id" = String, Path, description = "The run"),
        ("artifact_id" = String, Path, description = "The artifact"),
    ),
    responses(
        (status = 200, description = "The bytes, with the stored content type", content_type = "application/octet-stream", body = crate::schema::RawBytes),
        (status = 400, description = "A malformed artifact id", body = ErrorDetail),
        (status = 404, description = "No such run or artifact", body = ErrorDetail),
    ),
)]
pub async fn content(
    State(state): State<AppState>,
    Path((run_id, artifact_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (meta, bytes) = state.call(move |app| app.artifact(&run_id, &artifact_id)).await?;
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some(name) = meta.filename.as_deref().map(|n| n.replace(['"', '\r', '\n'], ""))
        && !name.is_empty()
        && let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
