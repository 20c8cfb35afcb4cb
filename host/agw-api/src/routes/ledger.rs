//! Paged ledger reads.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};

use crate::query::Query;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::json_body;
use agw_domain::record::StepRecord;
use agw_domain::run::RunState;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    after: Option<u64>,
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
#[derive(Debug, Serialize)]
pub struct Page {
    items: Vec<StepRecord>,
    next_after: u64,
}

fn page(state: &AppState, run: &RunState, after: u64, limit: usize) -> ApiResult<Page> {
    let items = agw_store::read_committed(state.store.as_ref(), run, after, limit)?;
    let next_after = after + items.len() as u64;
    Ok(Page { items, next_after })
}

pub async fn get_page(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Page>> {
    let limit = page_limit(&state, query.limit, &["query", "limit"])?;
    let run = state.store.load_run(&run_id)?.ok_or_else(|| ApiError::run_not_found(&run_id))?;
    Ok(Json(page(&state, &run, query.after.unwrap_or(0), limit)?))
}

pub async fn batch(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let body = json_body(&body)?;
    let limit = page_limit(&state, body.get("limit").and_then(Value::as_i64), &["body", "limit"])?;
    let Some(runs) = body.get("runs").and_then(Value::as_array) else {
        return Err(ApiError::invalid("missing", &["body", "runs"], "Field required", body.clone()));
    };
    let mut out = Map::new();
    for entry in runs {
        let Some(run_id) = entry.get("run_id").and_then(Value::as_str) else { continue };
        let Some(run) = state.store.load_run(run_id)? else { continue };
        let after = entry.get("after").and_then(Value::as_u64).unwrap_or(0);
        let page = serde_json::to_value(page(&state, &run, after, limit)?).map_err(ApiError::internal)?;
        out.insert(run_id.to_owned(), page);
    }
    Ok(Json(json!({ "runs": out })))
}
