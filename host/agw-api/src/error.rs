//! The one place where failures become HTTP answers: `{"detail": ...}` with the reference's
//! status codes. 5xx answers never carry internals; the cause goes to the log.

use agw_app::{AppError, FieldError};
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

    /// A FastAPI-style validation error (422) for one field.
    pub fn invalid(kind: &str, loc: &[&str], msg: &str, input: Value) -> Self {
        Self::validation(kind, loc.iter().map(|s| (*s).to_owned()).collect(), msg, input)
    }

    /// [`ApiError::invalid`] with an owned location.
    pub fn validation(kind: &str, loc: Vec<String>, msg: &str, input: Value) -> Self {
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

/// The one mapping from what a use case answered to a status code and body.
impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Refused(detail) => Self::bad_request(detail),
            AppError::InvalidField(field) => {
                let FieldError { kind, loc, message, input } = *field;
                Self::validation(kind, loc, &message, input)
            }
            AppError::Unprocessable(detail) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail),
            AppError::NotFound(detail) => Self::not_found(detail),
            e @ AppError::RunNotFound(_) => Self::not_found(e.to_string()),
            AppError::Internal(cause) => Self::internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_one_status_and_a_5xx_says_nothing_of_its_cause() {
        let cases = [
            (AppError::Refused("no".into()), StatusCode::BAD_REQUEST, json!("no")),
            (AppError::NotFound("gone".into()), StatusCode::NOT_FOUND, json!("gone")),
            (AppError::RunNotFound("r1".into()), StatusCode::NOT_FOUND, json!("Run 'r1' not found")),
            (AppError::Unprocessable("state".into()), StatusCode::UNPROCESSABLE_ENTITY, json!("state")),
            (
                AppError::Internal("I/O error on /srv/secret/run_r1.json".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                json!("Internal Server Error"),
            ),
        ];
        for (error, status, detail) in cases {
            let answer = ApiError::from(error);
            assert_eq!((answer.status, answer.detail), (status, detail));
        }
        let field = ApiError::from(AppError::value_error(&["interval"], "too long", json!("99999d")));
        assert_eq!(field.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            field.detail,
            json!([{"type": "value_error", "loc": ["body", "interval"], "msg": "Value error, too long", "input": "99999d"}])
        );
        let store = ApiError::from(AppError::from(agw_store::StoreError::Corrupt {
            path: "/srv/x".into(),
            reason: "bad".into(),
        }));
        assert_eq!(store.detail, json!("Internal Server Error"));
    }
}
