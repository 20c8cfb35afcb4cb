//! What a client needs to restart or replay a run: `input_data` and `history_bundle`.

use std::collections::{HashMap, HashSet, VecDeque};

use axum::Json;
use axum::extract::{Path, State};

use crate::query::Query;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use agw_domain::run::RunState;
use agw_store::RunStore;

use crate::error::{ApiError, ApiResult};
use crate::replay_views::{self, HistoryBundle, HistoryLedger, HistoryWarning, InputDataView, OrderedMap};
use crate::schema::{ErrorDetail, ValidationError};
use crate::{AppState, artifact_views, bundle_views};

/// Descendants a history bundle walks at most (the reference's bound).
const MAX_SUBRUNS: usize = 5000;
/// Artifacts listed per run in a history bundle (the reference's bound).
const MAX_BUNDLE_ARTIFACTS: usize = 500;

/// Runs blocking store work off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?
}

fn load(store: &dyn RunStore, run_id: &str) -> ApiResult<RunState> {
    store.load_run(run_id)?.ok_or_else(|| ApiError::run_not_found(run_id))
}

/// The flow's input pin ids and its entrypoint name, when the run's bundle version is loaded.
fn flow_facts(state: &AppState, run: &RunState) -> (Vec<String>, String) {
    let catalog = state.catalog.get();
    let Some(loaded) = catalog.get(&run.flow.bundle_id, Some(&run.flow.bundle_version)) else {
        return (Vec::new(), run.flow.flow_id.clone());
    };
    let bundle = &loaded.bundle;
    let pins = bundle.flows.get(&run.flow.flow_id).map(bundle_views::flow_inputs).unwrap_or_default();
    let name = bundle.manifest.entrypoint(&run.flow.flow_id).and_then(|e| e.name.clone());
    (pins.into_iter().map(|p| p.id).collect(), name.unwrap_or_else(|| run.flow.flow_id.clone()))
}

#[utoipa::path(
    get,
    path = "/runs/{run_id}/input_data",
    tag = "runs",
    summary = "What a client needs to start a run again",
    params(("run_id" = String, Path, description = "The run")),
    responses(
        (status = 200, description = "The run's inputs", body = InputDataView),
        (status = 404, description = "No such run", body = ErrorDetail),
    ),
)]
pub async fn input_data(State(state): State<AppState>, Path(run_id): Path<String>) -> ApiResult<Json<InputDataView>> {
    let store = state.store.clone();
    let run = blocking(move || load(store.as_ref(), &run_id)).await?;
    let (pin_ids, name) = flow_facts(&state, &run);
    Ok(Json(replay_views::input_data(&run, &pin_ids, &name)))
}

/// What a history bundle holds. Values are read as strings and checked by hand, so a bad
/// one gets the reference's answer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Walk the run's descendants too (boolean, default true).
    #[param(value_type = Option<bool>)]
    include_subruns: Option<String>,
    /// `tail` (default: the last `ledger_max_items` records per run) or `full`.
    #[param(pattern = "^(tail|full)$")]
    ledger_mode: Option<String>,
    /// Records per run in `tail` mode (integer >= 0, default 2000; 0 means all).
    #[param(value_type = Option<u64>)]
    ledger_max_items: Option<String>,
    /// `full` (default) or `replay`; both answer the full bundle.
    #[param(pattern = "^(full|replay)$")]
    detail: Option<String>,
}

fn query_error(loc: &str, kind: &str, msg: &str, input: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        detail: json!([{ "type": kind, "loc": ["query", loc], "msg": msg, "input": input }]),
    }
}

/// A boolean query value as FastAPI reads one.
fn query_bool(name: &str, raw: Option<&str>, default: bool) -> ApiResult<bool> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on" | "t" | "y") => Ok(true),
        Some("false" | "0" | "no" | "off" | "f" | "n") => Ok(false),
        Some(_) => Err(query_error(
            name,
            "bool_parsing",
            "Input should be a valid boolean, unable to interpret input",
            raw.unwrap_or_default(),
        )),
    }
}

/// What one history bundle export asks for.
struct HistoryOptions {
    include_subruns: bool,
    /// Records per run, counted from the end; `None` exports whole ledgers.
    tail: Option<u64>,
}

fn history_options(query: &HistoryQuery) -> ApiResult<HistoryOptions> {
    let include_subruns = query_bool("include_subruns", query.include_subruns.as_deref(), true)?;
    let max_items = match query.ledger_max_items.as_deref() {
        None => 2000,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n >= 0 => n as u64,
            Ok(_) => {
                return Err(query_error(
                    "ledger_max_items",
                    "greater_than_equal",
                    "Input should be greater than or equal to 0",
                    raw,
                ));
            }
            Err(_) => {
                return Err(query_error(
                    "ledger_max_items",
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                    raw,
                ));
            }
        },
    };
    let tail = match query.ledger_mode.as_deref().map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        None | Some("tail") if max_items > 0 => Some(max_items),
        None | Some("tail" | "full") => None,
        Some(_) => return Err(ApiError::bad_request("ledger_mode must be 'tail' or 'full'")),
    };
    // `replay` is the reference's slimmer projection; the full bundle carries everything it
    // does, and says so in `detail`.
    match query.detail.as_deref().map(|d| d.trim().to_ascii_lowercase()).as_deref() {
        None | Some("full" | "replay") => {}
        Some(_) => return Err(ApiError::bad_request("detail must be 'full' or 'replay'")),
    }
    Ok(HistoryOptions { include_subruns, tail })
}

/// The root and its descendants (breadth first, through `parent_run_id`), each once.
fn run_tree(store: &dyn RunStore, root: RunState, include_subruns: bool) -> ApiResult<Vec<RunState>> {
    if !include_subruns {
        return Ok(vec![root]);
    }
    let mut children: HashMap<String, Vec<RunState>> = HashMap::new();
    for run in store.list_runs()? {
        if let Some(parent) = run.parent_run_id.clone() {
            children.entry(parent).or_default().push(run);
        }
    }
    for kids in children.values_mut() {
        kids.sort_by(|a, b| (&a.created_at, &a.run_id).cmp(&(&b.created_at, &b.run_id)));
    }
    let mut seen = HashSet::from([root.run_id.clone()]);
    let mut queue = VecDeque::from([root.run_id.clone()]);
    let mut tree = vec![root];
    while let Some(id) = queue.pop_front() {
        for kid in children.remove(&id).unwrap_or_default() {
            if tree.len() > MAX_SUBRUNS {
                return Ok(tree);
            }
            if seen.insert(kid.run_id.clone()) {
                queue.push_back(kid.run_id.clone());
                tree.push(kid);
            }
        }
    }
    Ok(tree)
}

fn build_history(state: &AppState, root: RunState, options: &HistoryOptions) -> ApiResult<HistoryBundle> {
    let store = state.store.as_ref();
    let (_, name) = flow_facts(state, &root);
    let mut warnings = Vec::new();
    let mut ledgers: Vec<(String, HistoryLedger)> = Vec::new();
    let mut timeline = Vec::new();
    let mut snapshot = None;
    let root_view = replay_views::history_run(&root);
    let input_data = replay_views::history_input_data(&root, &name);
    let root_id = root.run_id.clone();
    for run in run_tree(store, root, options.include_subruns)? {
        // The ledger as this state committed it: a terminal run shows its final records.
        let total = agw_store::committed_len(store, &run)?;
        let start = match options.tail {
            Some(max) if total > max => {
                warnings.push(HistoryWarning {
                    code: "ledger_tail_window".into(),
                    run_id: run.run_id.clone(),
                    detail: format!(
                        "tail window: {max} of {total} records included (cursors {}..{total}); \
                         fetch ledger_mode=full for the rest.",
                        total - max + 1
                    ),
                    total,
                    window: max,
                });
                total - max
            }
            _ => 0,
        };
        let records =
            agw_store::read_committed(store, &run, start, usize::try_from(total - start).unwrap_or(usize::MAX))?;
        let artifacts = state.artifacts.list(&run.run_id).map_err(ApiError::internal)?;
        if run.run_id == root_id {
            snapshot =
                artifacts.iter().find(|m| agw_store::artifacts::is_flow_snapshot(m)).map(replay_views::snapshot_ref);
        }
        let summaries = artifacts.iter().take(MAX_BUNDLE_ARTIFACTS).map(artifact_views::artifact_summary).collect();
        for (i, record) in records.iter().enumerate() {
            timeline.push(replay_views::timeline_row(&run.run_id, start + 1 + i as u64, record));
        }
        let ledger = replay_views::history_ledger(&run.run_id, total, start + 1, records, summaries);
        // A run appears once in a tree; were it twice, its first place is kept.
        if !ledgers.iter().any(|(id, _)| id == &run.run_id) {
            ledgers.push((run.run_id.clone(), ledger));
        }
    }
    Ok(HistoryBundle {
        version: 1,
        generated_at: state.env.now_iso(),
        detail: "full".into(),
        root_run_id: root_id,
        run: root_view,
        workflow_snapshot: snapshot,
        input_data,
        ledgers: OrderedMap(ledgers),
        timeline,
        resolved_actions: Vec::new(),
        session: None,
        warnings,
    })
}

#[utoipa::path(
    get,
    path = "/runs/{run_id}/history_bundle",
    tag = "runs",
    summary = "Everything a client needs to replay a run tree offline",
    params(("run_id" = String, Path, description = "The root run"), HistoryQuery),
    responses(
        (status = 200, description = "The history bundle", body = HistoryBundle),
        (status = 400, description = "`ledger_mode` or `detail` not one of the listed values", body = ErrorDetail),
        (status = 404, description = "No such run", body = ErrorDetail),
        (status = 422, description = "`include_subruns` or `ledger_max_items` that does not parse", body = ValidationError),
    ),
)]
pub async fn history_bundle(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<HistoryBundle>> {
    let options = history_options(&query)?;
    blocking(move || {
        let root = load(state.store.as_ref(), &run_id)?;
        build_history(&state, root, &options).map(Json)
    })
    .await
}
