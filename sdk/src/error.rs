//! Why a node call failed.

use std::fmt;

use crate::http::HttpError;
use crate::workspace::WorkspaceError;

/// Why a node call failed. The engine fails the step with this message, so say what went
/// wrong in words an operator understands. Never put a secret in it (the gateway scrubs the
/// secrets it handed out, but do not rely on that).
///
/// The `?` operator converts the SDK's own errors: an [`HttpError`] or a
/// [`WorkspaceError`] becomes [`NodeError::Failed`] (a bad workspace path becomes
/// [`NodeError::InvalidInput`]), and a [`serde_json::Error`] becomes
/// [`NodeError::InvalidInput`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeError {
    /// An input or config value cannot be used; say which one.
    InvalidInput(String),
    /// The node type (the payload) is not provided by this plugin.
    UnknownNode(String),
    /// Anything else.
    Failed(String),
}

impl NodeError {
    /// Shorthand for [`NodeError::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// Shorthand for [`NodeError::Failed`].
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// [`NodeError::UnknownNode`] for `node_type`: the usual last arm of an `execute` match.
    pub fn unknown_node(node_type: &str) -> Self {
        Self::UnknownNode(node_type.to_owned())
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput(m) | Self::Failed(m) => f.write_str(m),
            Self::UnknownNode(node_type) => write!(f, "unknown node type '{node_type}'"),
        }
    }
}

impl std::error::Error for NodeError {}

impl From<HttpError> for NodeError {
    fn from(e: HttpError) -> Self {
        Self::Failed(e.to_string())
    }
}

impl From<WorkspaceError> for NodeError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::InvalidPath { .. } => Self::InvalidInput(e.to_string()),
            WorkspaceError::Io { .. } => Self::Failed(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for NodeError {
    fn from(e: serde_json::Error) -> Self {
        Self::InvalidInput(e.to_string())
    }
}
