//! Starting runs and reading their state.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use agw_app::{ResolvedFlow, Started};
use agw_domain::run::RunStatus;
use agw_store::RunQuery;

use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::requests::StartRunRequest;
use crate::schema::{ResolvedWorkflow, StartAnswer};
use crate::{AppState, views};

/// A start answer: the new run and `resolved_workflow`.
pub(super) fn started(started: Started) -> StartAnswer {
    let ResolvedFlow { flow, name } = started.resolved;
    StartAnswer {
        run_id: started.run_id,
        runner_warning: None,
        resolved_workflow: ResolvedWorkflow {
            source: "client".into(),
            workflow_id: flow.workflow_id(),
            bundle_id: flow.bundle_id,
            bundle_version: flow.bundle_version,
            flow_id: flow.flow_id,
            registry_scope: "private".into(),
            name,
            interface: None,
        },
    }
}

#[utoipa::path(
    post,
    path = "/runs/start",
    tag = "runs",
    summary = "Start a run",
    request_body = StartRunRequest,
    responses(
        (status = 200, description = "The new run", body = StartAnswer),
        (status = 400, description = "Neither flow nor bundle, an ambiguous bundle, conflicting versions, or a flow that cannot run", body = crate::schema::ErrorDetail),
        (status = 404, description = "No such bundle or flow", body = crate::schema::ErrorDetail),
        (status = 422, description = "A body that is not a JSON object, or a field of the wrong type", body = crate::schema::ValidationError),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    Body(request): Body<StartRunRequest>,
) -> ApiResult<Json<StartAnswer>> {
    let run = state.call(move |app| app.start(request.into())).await?;
    Ok(Json(started(run)))
}

#[utoipa::path(
    get,
    path = "/runs/{run_id}",
    tag = "runs",
    summary = "A run's state",
    params(("run_id" = String, Path, description = "The run")),
    responses(
        (status = 200, description = "The run", body = views::RunView),
        (status = 404, description = "No such run", body = crate::schema::ErrorDetail),
    ),
)]
pub async fn get(State(state): State<AppState>, Path(run_id): Path<String>) -> ApiResult<Json<views::RunView>> {
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

#[utoipa::path(
    get,
    path = "/runs",
    tag = "runs",
    summary = "One page of runs, newest first",
    params(
        ("limit" = Option<usize>, Query, description = "Runs per page (1 to 500, default 50)"),
        ("offset" = Option<usize>, Query, description = "Runs to skip"),
        ("status" = Option<crate::schema::RunStatusSchema>, Query, description = "Only runs with this status"),
        ("workflow_id" = Option<String>, Query, description = "Only runs of this workflow"),
        ("session_id" = Option<String>, Query, description = "Only runs of this session"),
        ("parent_run_id" = Option<String>, Query, description = "Only children of this run (the page then lists full run views)"),
        ("root_only" = Option<bool>, Query, description = "Only runs without a parent"),
    ),
    responses(
        (status = 200, description = "The page", body = views::RunList),
        (status = 400, description = "An unknown query parameter or status", body = crate::schema::ErrorDetail),
        (status = 422, description = "A query value that does not parse", body = crate::schema::ValidationError),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Query(raw): Query<std::collections::BTreeMap<String, String>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<views::RunList>> {
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
        parent_run_id: query.parent_run_id.filter(|p| !p.is_empty()),
        root_only: query.root_only.unwrap_or(false),
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        offset: query.offset.unwrap_or(0),
    };
    let (offset, parent) = (query.offset, query.parent_run_id.clone());
    let listed = state.call(move |app| app.runs(&query)).await?;
    let count = listed.runs.len();
    // The reference answers a listing by parent with whole run views, any other with summaries.
    Ok(Json(match parent {
        Some(parent_run_id) => views::RunList::Children(views::ChildPageView {
            items: listed
                .runs
                .iter()
                .map(|listed| views::ChildRunItem {
                    run: views::RunView { workspace_root: None, ..views::run(&listed.run) },
                    kind: "conversation".into(),
                })
                .collect(),
            count,
            parent_run_id,
            offset,
            has_more: listed.has_more,
        }),
        None => views::RunList::Runs(views::RunPageView {
            items: listed.runs.iter().map(|listed| views::run_summary(&listed.run, listed.ledger_len)).collect(),
            count,
            offset,
            has_more: listed.has_more,
            archived_sessions: 0,
        }),
    }))
}
