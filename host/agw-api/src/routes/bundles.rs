//! Bundle discovery: list, detail, a flow's JSON and its input schema.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use crate::query::Query;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::{AppState, views};

#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    bundle_version: Option<String>,
}

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let catalog = state.catalog.get();
    let items: Vec<Value> = catalog.latest().map(|b| views::bundle_item(b)).collect();
    let skipped: Vec<Value> = catalog.skipped.iter().map(|s| json!({"path": s.path, "reason": s.reason})).collect();
    Json(json!({
        "items": items,
        "interfaces": {},
        "executable_for": null,
        "default_bundle_id": null,
        "default_agent_workflows": {},
        "skipped_count": skipped.len(),
        "skipped": skipped,
    }))
}

fn find(state: &AppState, bundle_id: &str, version: Option<&str>) -> ApiResult<Arc<agw_store::LoadedBundle>> {
    state
        .catalog
        .get()
        .get(bundle_id, version)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Bundle '{bundle_id}' not found")))
}

pub async fn detail(
    State(state): State<AppState>,
    Path(bundle_id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let loaded = find(&state, &bundle_id, query.bundle_version.as_deref())?;
    Ok(Json(views::bundle_detail(&loaded)))
}

fn flow_ids(loaded: &agw_store::LoadedBundle, flow_id: &str) -> ApiResult<(Value, Value)> {
    let bundle = &loaded.bundle;
    let flow = bundle
        .flows
        .get(flow_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Workflow '{}:{flow_id}' not found", bundle.bundle_ref())))?;
    let ids = json!({
        "bundle_id": bundle.manifest.bundle_id,
        "bundle_version": bundle.manifest.bundle_version,
        "bundle_ref": bundle.bundle_ref(),
        "flow_id": flow_id,
        "workflow_id": format!("{}:{flow_id}", bundle.bundle_ref()),
    });
    Ok((ids, flow))
}

pub async fn flow(
    State(state): State<AppState>,
    Path((bundle_id, flow_id)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let loaded = find(&state, &bundle_id, query.bundle_version.as_deref())?;
    let (mut ids, flow) = flow_ids(&loaded, &flow_id)?;
    if let Value::Object(map) = &mut ids {
        map.insert("flow".into(), flow);
    }
    Ok(Json(ids))
}

pub async fn input_schema(
    State(state): State<AppState>,
    Path((bundle_id, flow_id)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let loaded = find(&state, &bundle_id, query.bundle_version.as_deref())?;
    let (ids, flow) = flow_ids(&loaded, &flow_id)?;
    Ok(Json(views::input_schema_doc(ids, &flow)))
}
