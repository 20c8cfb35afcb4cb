//! Paged ledger reads.

use agw_app::LedgerPage;
use agw_domain::record::StepRecord;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::replay_views::OrderedMap;
use crate::requests::LedgerBatchRequest;
use crate::schema::{ErrorDetail, StepRecordSchema, ValidationError};

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

impl From<LedgerPage> for Page {
    fn from(page: LedgerPage) -> Self {
        Self { items: page.items, next_after: page.next_after }
    }
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
    let after = query.after.unwrap_or(0);
    Ok(Json(state.call(move |app| app.ledger(&run_id, after, limit)).await?.into()))
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
        (status = 422, description = "`limit` < 1, a mistyped field, or a body that is not a JSON object", body = ValidationError),
    ),
)]
pub async fn batch(
    State(state): State<AppState>,
    Body(request): Body<LedgerBatchRequest>,
) -> ApiResult<Json<BatchAnswer>> {
    let limit = page_limit(&state, request.limit, &["body", "limit"])?;
    let cursors: Vec<(String, u64)> =
        request.runs.into_iter().map(|entry| (entry.run_id, entry.after.unwrap_or(0))).collect();
    let pages = state.call(move |app| app.ledgers(&cursors, limit)).await?;
    Ok(Json(BatchAnswer { runs: OrderedMap(pages.into_iter().map(|(id, page)| (id, page.into())).collect()) }))
}
