//! Bundle discovery: list, detail, a flow's JSON and its input schema.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::bundle_views::{self, BundleDetail, BundleList, FlowDocument, FlowIds, InputSchemaDocument, SkippedFile};
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::schema::{ErrorDetail, ValidationError};

/// Which version of a bundle.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// The bundle version; the newest when absent.
    bundle_version: Option<String>,
}

#[utoipa::path(
    get,
    path = "/bundles",
    tag = "bundles",
    summary = "The newest version of every loaded bundle",
    responses((status = 200, description = "The bundles", body = BundleList)),
)]
pub async fn list(State(state): State<AppState>) -> Json<BundleList> {
    let catalog = state.app.bundles();
    let skipped: Vec<SkippedFile> = catalog.skipped.iter().map(SkippedFile::from).collect();
    Json(BundleList {
        items: catalog.latest().map(|b| bundle_views::bundle_item(b)).collect(),
        interfaces: serde_json::Map::new(),
        executable_for: None,
        default_bundle_id: None,
        default_agent_workflows: serde_json::Map::new(),
        skipped_count: skipped.len(),
        skipped,
    })
}

#[utoipa::path(
    get,
    path = "/bundles/{bundle_id}",
    tag = "bundles",
    summary = "One version of a bundle, with its flows",
    params(("bundle_id" = String, Path, description = "The bundle"), VersionQuery),
    responses(
        (status = 200, description = "The bundle", body = BundleDetail),
        (status = 404, description = "No such bundle (version)", body = ErrorDetail),
        (status = 422, description = "A query value that does not parse", body = ValidationError),
    ),
)]
pub async fn detail(
    State(state): State<AppState>,
    Path(bundle_id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<BundleDetail>> {
    let loaded = state.app.bundle(&bundle_id, query.bundle_version.as_deref())?;
    Ok(Json(bundle_views::bundle_detail(&loaded)))
}

fn flow_of(loaded: &agw_store::LoadedBundle, flow_id: &str) -> ApiResult<(FlowIds, serde_json::Value)> {
    let bundle = &loaded.bundle;
    let flow = bundle
        .flows
        .get(flow_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Workflow '{}:{flow_id}' not found", bundle.bundle_ref())))?;
    Ok((FlowIds::of(bundle, flow_id), flow))
}

#[utoipa::path(
    get,
    path = "/bundles/{bundle_id}/flows/{flow_id}",
    tag = "bundles",
    summary = "A flow's VisualFlow JSON",
    params(
        ("bundle_id" = String, Path, description = "The bundle"),
        ("flow_id" = String, Path, description = "The flow"),
        VersionQuery,
    ),
    responses(
        (status = 200, description = "The flow", body = FlowDocument),
        (status = 404, description = "No such bundle or flow", body = ErrorDetail),
        (status = 422, description = "A query value that does not parse", body = ValidationError),
    ),
)]
pub async fn flow(
    State(state): State<AppState>,
    Path((bundle_id, flow_id)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<FlowDocument>> {
    let loaded = state.app.bundle(&bundle_id, query.bundle_version.as_deref())?;
    let (ids, flow) = flow_of(&loaded, &flow_id)?;
    Ok(Json(FlowDocument { ids, flow }))
}

#[utoipa::path(
    get,
    path = "/bundles/{bundle_id}/flows/{flow_id}/input_schema",
    tag = "bundles",
    summary = "What input_data a flow takes",
    params(
        ("bundle_id" = String, Path, description = "The bundle"),
        ("flow_id" = String, Path, description = "The flow"),
        VersionQuery,
    ),
    responses(
        (status = 200, description = "The flow's inputs and their JSON Schema", body = InputSchemaDocument),
        (status = 404, description = "No such bundle or flow", body = ErrorDetail),
        (status = 422, description = "A query value that does not parse", body = ValidationError),
    ),
)]
pub async fn input_schema(
    State(state): State<AppState>,
    Path((bundle_id, flow_id)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<InputSchemaDocument>> {
    let loaded = state.app.bundle(&bundle_id, query.bundle_version.as_deref())?;
    let (ids, flow) = flow_of(&loaded, &flow_id)?;
    Ok(Json(bundle_views::input_schema_doc(ids, &flow)))
}
