//! What a use case answers when it does not do what was asked, split by what the caller can
//! do about it. The HTTP edge maps each kind to one status code, in one place.

use agw_store::{ArtifactError, StoreError};
use serde_json::Value;

/// A refused field, in the reference's validation shape.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The validation error's type (`string_type`, `value_error`, `missing`, ...).
    pub kind: &'static str,
    /// Where the field is, from the request's root (`["body", "interval"]`).
    pub loc: Vec<String>,
    pub message: String,
    /// The value that was refused.
    pub input: Value,
}

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request cannot be carried out as it stands; the caller must change it (400).
    #[error("{0}")]
    Refused(String),
    /// One field of the request has a value the use case cannot take (422, naming it in
    /// the reference's validation shape).
    #[error("{}", .0.message)]
    InvalidField(Box<FieldError>),
    /// The request is well formed, but what it targets is in a state that rules it out
    /// (422 with a sentence).
    #[error("{0}")]
    Unprocessable(String),
    /// What the request names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The run does not exist (404 in the reference's words).
    #[error("Run '{0}' not found")]
    RunNotFound(String),
    /// Something broke on our side; the caller can only retry. Never shown to the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// An internal failure, described for the log.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    /// A refused field at `body.<path>`.
    pub fn field(kind: &'static str, path: &[&str], message: impl Into<String>, input: Value) -> Self {
        let loc = std::iter::once("body").chain(path.iter().copied()).map(str::to_owned).collect();
        Self::InvalidField(Box::new(FieldError { kind, loc, message: message.into(), input }))
    }

    /// A field whose value breaks a rule of the use case (pydantic's `value_error`).
    pub fn value_error(path: &[&str], message: &str, input: Value) -> Self {
        Self::field("value_error", path, format!("Value error, {message}"), input)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::RunNotFound(id) => Self::RunNotFound(id),
            StoreError::Artifact(error) => error.into(),
            other => Self::internal(other),
        }
    }
}

impl From<ArtifactError> for AppError {
    fn from(error: ArtifactError) -> Self {
        match error {
            // A run id that cannot name a run names none.
            ArtifactError::InvalidId { kind: "run_id", id } => Self::RunNotFound(id),
            e @ ArtifactError::InvalidId { .. } => Self::Refused(format!("Invalid artifact id: {e}")),
            ArtifactError::NotFound { artifact_id, .. } => {
                Self::NotFound(format!("Artifact '{artifact_id}' not found"))
            }
            other => Self::internal(other),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
