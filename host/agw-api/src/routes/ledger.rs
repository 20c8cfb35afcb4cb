//! Paged ledger reads.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};

use crate::query::Query;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::json_body;
use agw_domain::record::StepRecord;
use agw_domain::run::RunState;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::replay_views::OrderedMap;
use crate::schema::{ErrorDetail, LedgerBatchRequest, StepRecordSchema, ValidationError};

/// Which records of a ledger.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Records already consumed (default 0).
    after: Option<u64>,
    /// Records to answer at most (>= 1, default 200, capped by the gateway's `max_ledger_page`).
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `limit` as the reference validates it (>= 1), capped at the configured maximum.
fn page_limit(state: &AppState, limit: Option<i64>, loc: &[&str]) -> ApiResult<usize> {
    match limit {
        None => Ok(200),
        Some(n) if n < 1 => Err(ApiError {
            status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "type": "greater_than_equal", "loc": loc, "msg": "Input should be greater than or equal to 1",
                             "input": n.to_string(), "ctx": {"ge": 1} }]),
        }),
        Some(n) => Ok((n as usize).min(state.config.max_ledger_page)),
    }
}

/// One page of a ledger. Serialized straight from the records: building a `Value` first
/// doubled the cost of a large page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    /// The records, oldest first.
    #[schema(value_type = Vec<StepRecordSchema>)]
    items: Vec<StepRecord>,
    /// `after` + the number of items: the next page's `after`.
    next_after: u64,
}

fn page(state: &AppState, run: &RunState, after: u64, limit: usize) -> ApiResult<Page> {
    let items = agw_store::read_committed(state.store.as_ref(), run, after, limit)?;
    let next_after = after + items.len() as u64;
    Ok(Page { items, next_after })
}

#[utoipa::path(
    get,
    path = "/runs/{run_id}/ledger",
    tag = "ledger",
    summary = "One page of a run's ledger",
    params(("run_id" = String, Path, description = "The run"), PageQuery),
    responses(
        (status = 200, description = "The page", body = Page),
        (status = 404, description = "No such run", body = ErrorDetail),
        (status = 422, description = "`limit` < 1 or a value that does not parse", body = ValidationError),
    ),
)]
pub async fn get_page(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Page>> {
    let limit = page_limit(&state, query.limit, &["query", "limit"])?;
    let run = state.store.load_run(&run_id)?.ok_or_else(|| ApiError::run_not_found(&run_id))?;
    Ok(Json(page(&state, &run, query.after.unwrap_or(0), limit)?))
}

/// `POST /runs/ledger/batch`: `run_id → page`, in the order asked; unknown runs are left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    #[schema(value_type = HashMap<String, Page>)]
    runs: OrderedMap<Page>,
}

#[utoipa::path(
    post,
    path = "/runs/ledger/batch",
    tag = "ledger",
    summary = "The next page of several ledgers",
    request_body = LedgerBatchRequest,
    responses(
        (status = 200, description = "One page per known run", body = BatchAnswer),
        (status = 422, description = "No `runs`, `limit` < 1, or a body that is not JSON", body = ValidationError),
    ),
)]
pub async fn batch(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<BatchAnswer>> {
    let body = json_body(&body)?;
    let limit = page_limit(&state, body.get("limit").and_then(Value::as_i64), &["body", "limit"])?;
    let Some(runs) = body.get("runs").and_then(Value::as_array) else {
        return Err(ApiError::invalid("missing", &["body", "runs"], "Field required", body.clone()));
    };
    let mut out: Vec<(String, Page)> = Vec::new();
    for entry in runs {
        let Some(run_id) = entry.get("run_id").and_then(Value::as_str) else { continue };
        let Some(run) = state.store.load_run(run_id)? else { continue };
        let after = entry.get("after").and_then(Value::as_u64).unwrap_or(0);
        let page = page(&state, &run, after, limit)?;
        // A run named twice answers once, where it was first named, with its last page.
        match out.iter_mut().find(|(id, _)| id == run_id) {
            Some(slot) => slot.1 = page,
            None => out.push((run_id.to_owned(), page)),
        }
    }
    Ok(Json(BatchAnswer { runs: OrderedMap(out) }))
}
