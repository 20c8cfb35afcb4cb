//! The one place where failures become HTTP answers: `{"detail": ...}` with the reference's
//! status codes. 5xx answers never carry internals; the cause goes to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: Value::String(detail.into()) }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn run_not_found(run_id: &str) -> Self {
        Self::not_found(format!("Run '{run_id}' not found"))
    }

    /// A FastAPI-style validation error (422) for one field.
    pub fn invalid(kind: &str, loc: &[&str], msg: &str, input: Value) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "type": kind, "loc": loc, "msg": msg, "input": input }]),
        }
    }

    /// Like [`ApiError::invalid`], with pydantic's `ctx` (the constraint that failed).
    pub fn invalid_with_ctx(kind: &str, loc: &[&str], msg: &str, input: Value, ctx: Value) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "type": kind, "loc": loc, "msg": msg, "input": input, "ctx": ctx }]),
        }
    }

    /// Something broke on our side: log it, answer without details.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

impl From<agw_store::StoreError> for ApiError {
    fn from(error: agw_store::StoreError) -> Self {
        match error {
            agw_store::StoreError::RunNotFound(id) => Self::run_not_found(&id),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
