//! Starting runs and reading their state.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};

use crate::query::Query;
use serde::Deserialize;
use std::sync::Arc;

use agw_store::{LoadedBundle, RunPage, RunQuery};
use serde_json::{Map, Value, json};

use agw_domain::run::{FlowRef, NewRun, RunState, RunStatus};

use super::json_body;
use crate::error::{ApiError, ApiResult};
use crate::fields::optional_str;
use crate::{AppState, views};

/// Which flow a start request names, resolved against the catalog.
pub(super) struct Resolved {
    pub(super) flow: FlowRef,
    pub(super) name: String,
    /// The bundle the flow is in, shared with the catalog: the run's snapshot is written
    /// from it, so resolving a start never copies the flow.
    bundle: Arc<LoadedBundle>,
}

impl Resolved {
    /// `resolved_workflow` in a start answer.
    pub(super) fn view(&self) -> Value {
        json!({
            "source": "client",
            "workflow_id": self.flow.workflow_id(),
            "bundle_id": self.flow.bundle_id,
            "bundle_version": self.flow.bundle_version,
            "flow_id": self.flow.flow_id,
            "registry_scope": "private",
            "name": self.name,
            "interface": null,
        })
    }
}

/// `id@version` → (`id`, `version`); a bare id has no version.
fn split_ref(raw: &str) -> (String, Option<String>) {
    match raw.split_once('@') {
        Some((id, ver)) => (id.to_owned(), Some(ver.to_owned()).filter(|v| !v.is_empty())),
        None => (raw.to_owned(), None),
    }
}

/// Resolves `bundle_id` (`id` or `id@version`) / `bundle_version` / `flow_id` (a flow id,
/// `bundle:flow` or `bundle@version:flow`) the way the reference does.
pub(super) fn resolve(state: &AppState, body: &Map<String, Value>) -> ApiResult<Resolved> {
    // A field of another type is refused, never taken as absent (`"flow_id": 5` would start
    // the default flow).
    let text = |key: &str| Ok::<_, ApiError>(optional_str(body, &["body"], key)?.filter(|s| !s.is_empty()));
    let (mut bundle_id, mut version, mut flow_id) = (text("bundle_id")?, text("bundle_version")?, text("flow_id")?);
    if let Some((id, Some(ref_version))) = bundle_id.as_deref().map(split_ref) {
        if version.as_ref().is_some_and(|v| v != &ref_version) {
            return Err(ApiError::bad_request(
                "bundle_version conflicts with bundle_id (bundle_id already includes '@version')",
            ));
        }
        (bundle_id, version) = (Some(id), Some(ref_version));
    }
    if let Some(full) = flow_id.clone()
        && let Some((bundle_part, flow_part)) = full.split_once(':')
    {
        let (id, ver) = split_ref(bundle_part);
        bundle_id = Some(id);
        version = ver.or(version);
        flow_id = Some(flow_part.to_owned());
    }
    let Some(bundle_id) = bundle_id else {
        return Err(ApiError::bad_request("flow_id is required (or provide bundle_id to start a bundle entrypoint)"));
    };
    let catalog = state.catalog.get();
    let loaded = catalog.get(&bundle_id, version.as_deref()).ok_or_else(|| match &version {
        Some(v) if catalog.get(&bundle_id, None).is_some() => {
            ApiError::not_found(format!("Bundle '{bundle_id}@{v}' not found"))
        }
        _ => ApiError::not_found(format!("Bundle '{bundle_id}' not found")),
    })?;
    let bundle = &loaded.bundle;
    let flow_id = match flow_id {
        Some(id) => id,
        None => bundle.default_flow_id().map(str::to_owned).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Bundle '{}' has several entrypoints and no default_entrypoint; flow_id is required",
                bundle.bundle_ref()
            ))
        })?,
    };
    if !bundle.flows.contains_key(&flow_id) {
        return Err(ApiError::not_found(format!("Workflow '{}:{flow_id}' not found", bundle.bundle_ref())));
    }
    let name = bundle.manifest.entrypoint(&flow_id).and_then(|e| e.name.clone()).unwrap_or_else(|| flow_id.clone());
    Ok(Resolved {
        flow: FlowRef {
            bundle_id: bundle.manifest.bundle_id.clone(),
            bundle_version: bundle.manifest.bundle_version.clone(),
            flow_id,
        },
        name,
        bundle: Arc::clone(loaded),
    })
}

/// A start request's body: a JSON object.
pub(super) fn object_body(body: &[u8]) -> ApiResult<Map<String, Value>> {
    match json_body(body)? {
        Value::Object(body) => Ok(body),
        other => {
            Err(ApiError::invalid("model_attributes_type", &["body"], "Input should be a valid dictionary", other))
        }
    }
}

/// `input_data`: an object, absent or null meaning empty.
pub(super) fn input_data(body: &Map<String, Value>) -> ApiResult<Map<String, Value>> {
    match body.get("input_data") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(other) => Err(ApiError::invalid(
            "dict_type",
            &["body", "input_data"],
            "Input should be a valid dictionary",
            other.clone(),
        )),
    }
}

/// `session_id`: a string; absent, null or empty means "the run's own id".
pub(super) fn session_id(body: &Map<String, Value>) -> ApiResult<Option<String>> {
    Ok(optional_str(body, &["body"], "session_id")?.filter(|s| !s.is_empty()))
}

#[utoipa::path(
    post,
    path = "/runs/start",
    tag = "runs",
    summary = "Start a run",
    request_body = crate::schema::StartRunRequest,
    responses(
        (status = 200, description = "The new run", body = crate::schema::StartAnswer),
        (status = 400, description = "Neither flow nor bundle, an ambiguous bundle, conflicting versions, or a flow that cannot run", body = crate::schema::ErrorDetail),
        (status = 404, description = "No such bundle or flow", body = crate::schema::ErrorDetail),
        (status = 422, description = "A body that is not a JSON object, or a field of the wrong type", body = crate::schema::ValidationError),
    ),
)]
pub async fn start(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let body = object_body(&body)?;
    let input_data = input_data(&body)?;
    let session_id = session_id(&body)?;
    let resolved = resolve(&state, &body)?;
    let workflow_id = resolved.flow.workflow_id();
    let compiled = state
        .workflows
        .compile(&resolved.flow)
        .map_err(|reason| ApiError::bad_request(format!("Workflow '{workflow_id}' cannot run: {reason}")))?;

    let run_id = uuid::Uuid::new_v4().to_string();
    let workspace = state.data_dir.join("workspaces").join(&run_id);
    std::fs::create_dir_all(&workspace).map_err(ApiError::internal)?;
    let mut run = RunState::new(NewRun {
        run_id: run_id.clone(),
        flow: resolved.flow.clone(),
        input_data,
        session_id,
        parent_run_id: None,
        workspace_root: workspace.display().to_string(),
        entry_node: compiled.entry.clone(),
        now: state.env.now_iso(),
    });
    run.start_listeners(&compiled, state.env.as_ref());
    let (store, artifacts, bundle) = (state.store.clone(), state.artifacts.clone(), Arc::clone(&resolved.bundle));
    tokio::task::spawn_blocking(move || {
        // The snapshot first: a run never exists without the flow it runs.
        let flow_json = bundle.bundle.flows.get(&run.flow.flow_id).unwrap_or(&Value::Null);
        agw_store::store_flow_snapshot(&artifacts, &run.run_id, &run.flow, flow_json).map_err(ApiError::internal)?;
        store.create_run(&run).map_err(ApiError::from)
    })
    .await
    .map_err(ApiError::internal)??;
    state.runner.wake_run(&run_id);
    tracing::info!(run_id = %run_id, workflow_id = %workflow_id, "run started");
    Ok(Json(json!({
        "run_id": run_id,
        "runner_warning": null,
        "resolved_workflow": resolved.view(),
    })))
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
    let run = state.store.load_run(&run_id)?.ok_or_else(|| ApiError::run_not_found(&run_id))?;
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
        ("parent_run_id" = Option<String>, Query, description = "Only children of this run"),
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
        parent_run_id: query.parent_run_id,
        root_only: query.root_only.unwrap_or(false),
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        offset: query.offset.unwrap_or(0),
    };
    let RunPage { runs, has_more } = state.store.query_runs(&query)?;
    let mut items = Vec::new();
    for run in &runs {
        let ledger_len = agw_store::committed_len(state.store.as_ref(), run)?;
        items.push(views::RunListItem { run: views::run(run), ledger_len, kind: "conversation".into() });
    }
    Ok(Json(views::RunList { count: items.len(), items, offset: query.offset, has_more }))
}
