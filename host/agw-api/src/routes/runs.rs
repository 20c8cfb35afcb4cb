//! Starting runs and reading their state.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use agw_app::Started;
use agw_domain::run::RunStatus;
use agw_store::RunQuery;

use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::requests::StartRunRequest;
use crate::{AppState, views};

/// A start answer: the new run and `resolved_workflow`.
pub(super) fn started(started: &Started) -> Value {
    let flow = &started.resolved.flow;
    json!({
        "run_id": started.run_id,
        "runner_warning": null,
        "resolved_workflow": {
            "source": "client",
            "workflow_id": flow.workflow_id(),
            "bundle_id": flow.bundle_id,
            "bundle_version": flow.bundle_version,
            "flow_id": flow.flow_id,
            "registry_scope": "private",
            "name": started.resolved.name,
            "interface": null,
        },
    })
}

pub async fn start(State(state): State<AppState>, Body(request): Body<StartRunRequest>) -> ApiResult<Json<Value>> {
    let run = state.call(move |app| app.start(request.into())).await?;
    Ok(Json(started(&run)))
}

pub async fn get(State(state): State<AppState>, Path(run_id): Path<String>) -> ApiResult<Json<Value>> {
    let run = state.call(move |app| app.run(&run_id)).await?;
    Ok(Json(views::run(&run)))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    status: Option<String>,
    workflow_id: Option<String>,
    session_id: Option<String>,
    parent_run_id: Option<String>,
    root_only: Option<bool>,
}

/// Query parameters the reference accepts on `GET /runs` (some are not used yet), as its
/// refusal of an unknown one lists them; `access_token`, which authentication reads on every
/// route, is accepted too.
const LIST_PARAMS: &[&str] = &[
    "archived_only",
    "include_drafts",
    "include_ledger_len",
    "include_metrics",
    "kind",
    "limit",
    "offset",
    "parent_run_id",
    "query",
    "root_only",
    "session_id",
    "session_kind",
    "status",
    "workflow_id",
];

pub async fn list(
    State(state): State<AppState>,
    Query(raw): Query<std::collections::BTreeMap<String, String>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let unknown: Vec<&str> =
        raw.keys().map(String::as_str).filter(|k| *k != "access_token" && !LIST_PARAMS.contains(k)).collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Unknown query parameter(s): {} — known: {}",
            unknown.join(", "),
            LIST_PARAMS.join(", ")
        )));
    }
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| ApiError::bad_request(format!("unknown status '{s}'")))?),
    };
    let query = RunQuery {
        status,
        workflow_id: query.workflow_id,
        session_id: query.session_id,
        parent_run_id: query.parent_run_id,
        root_only: query.root_only.unwrap_or(false),
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        offset: query.offset.unwrap_or(0),
    };
    let (offset, listed) = (query.offset, state.call(move |app| app.runs(&query)).await?);
    let items: Vec<Value> = listed
        .runs
        .iter()
        .map(|listed| {
            let mut item = views::run(&listed.run);
            if let Value::Object(map) = &mut item {
                map.insert("ledger_len".into(), json!(listed.ledger_len));
                map.insert("kind".into(), json!("conversation"));
            }
            item
        })
        .collect();
    Ok(Json(json!({ "items": items, "count": items.len(), "offset": offset, "has_more": listed.has_more })))
}
