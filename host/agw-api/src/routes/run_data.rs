//! What a client needs to restart or replay a run: `input_data` and `history_bundle`.

use axum::Json;
use axum::extract::{Path, State};

use crate::query::{Query, query_bool};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use agw_app::RunHistory;
use agw_domain::run::RunState;

use crate::error::{ApiError, ApiResult};
use crate::replay_views::{self, HistoryBundle, HistoryLedger, HistoryWarning, InputDataView, OrderedMap};
use crate::schema::{ErrorDetail, ValidationError};
use crate::{AppState, artifact_views, bundle_views};

/// Artifacts listed per run in a history bundle (the reference's bound).
const MAX_BUNDLE_ARTIFACTS: usize = 500;

/// The flow's input pin ids and its entrypoint name, when the run's bundle version is loaded.
fn flow_facts(state: &AppState, run: &RunState) -> (Vec<String>, String) {
    let Some(loaded) = state.app.bundle_of(&run.flow) else {
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
    let run = state.call(move |app| app.run(&run_id)).await?;
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

/// The bundle of `runs`: the root first, then its descendants.
fn build_history(state: &AppState, runs: Vec<RunHistory>) -> ApiResult<HistoryBundle> {
    let root = runs.first().map(|history| history.run.clone()).ok_or_else(|| ApiError::internal("no root run"))?;
    let (_, name) = flow_facts(state, &root);
    let mut warnings = Vec::new();
    let mut ledgers: Vec<(String, HistoryLedger)> = Vec::new();
    let mut timeline = Vec::new();
    let mut snapshot = None;
    for RunHistory { run, total, skipped, records, artifacts } in runs {
        if skipped > 0 {
            let window = total - skipped;
            warnings.push(HistoryWarning {
                code: "ledger_tail_window".into(),
                run_id: run.run_id.clone(),
                detail: format!(
                    "tail window: {window} of {total} records included (cursors {}..{total}); \
                     fetch ledger_mode=full for the rest.",
                    skipped + 1
                ),
                total,
                window,
            });
        }
        if run.run_id == root.run_id {
            snapshot =
                artifacts.iter().find(|m| agw_store::artifacts::is_flow_snapshot(m)).map(replay_views::snapshot_ref);
        }
        let summaries = artifacts.iter().take(MAX_BUNDLE_ARTIFACTS).map(artifact_views::artifact_summary).collect();
        for (i, record) in records.iter().enumerate() {
            timeline.push(replay_views::timeline_row(&run.run_id, skipped + 1 + i as u64, record));
        }
        let ledger = replay_views::history_ledger(&run.run_id, total, skipped + 1, records, summaries);
        // A run appears once in a tree; were it twice, its first place is kept.
        if !ledgers.iter().any(|(id, _)| id == &run.run_id) {
            ledgers.push((run.run_id.clone(), ledger));
        }
    }
    Ok(HistoryBundle {
        version: 1,
        generated_at: state.app.now_iso(),
        detail: "full".into(),
        root_run_id: root.run_id.clone(),
        run: replay_views::history_run(&root),
        workflow_snapshot: snapshot,
        input_data: replay_views::history_input_data(&root, &name),
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
    let (subruns, tail) = (options.include_subruns, options.tail);
    let runs = state.call(move |app| app.history(&run_id, subruns, tail)).await?;
    build_history(&state, runs).map(Json)
}
