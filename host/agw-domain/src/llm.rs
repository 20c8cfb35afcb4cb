//! What an `llm_call` step asks of a provider and what it gets back, in the host's own terms.
//!
//! The engine builds a [`ChatRequest`] from a node's pins and hands it to the run's
//! [`crate::NodeExecutor::llm`]; the host routes it to the provider plugin that serves the
//! provider id (WIT world `llm-provider`) and answers a [`ChatAnswer`]. Live text goes to a
//! [`DeltaSink`] while the call runs; none of it is persisted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.to_owned(), content: content.into(), tool_calls: Vec::new(), tool_call_id: None, name: None }
    }
}

/// A tool the model may call; `parameters` is a JSON Schema object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub parameters: Value,
}

/// A tool call the model asked for; `arguments` is a JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// One chat completion request, provider and model resolved or left to the host's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// `None`: the host's `output.text` default.
    pub provider: Option<String>,
    pub model: Option<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// A JSON Schema the answer must satisfy (structured output).
    pub response_schema: Option<Value>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<i64>,
    pub stop: Vec<String>,
    /// Stream the answer to the run's live frames.
    pub stream: bool,
}

/// Token counts, when the provider reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub total_tokens: u32,
}

/// A provider's answer, and who produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatAnswer {
    /// The provider id and model that answered (after the host's routing).
    pub provider: String,
    pub model: String,
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `length`, `tool_calls`, `content_filter` or `other`.
    pub finish_reason: String,
    pub usage: Option<Usage>,
    /// The provider plugin's `{name, version, sha256}`.
    pub plugin: Value,
    /// Calls made, retries for rate limits included.
    pub attempts: u32,
    /// How long the provider took, in milliseconds (retries included).
    pub elapsed_ms: f64,
    /// Milliseconds until the first streamed text, when streamed.
    pub ttft_ms: Option<f64>,
}

/// Which call a live frame belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRef {
    pub run_id: String,
    pub parent_run_id: Option<String>,
    pub node_id: String,
    /// The step id of the call's ledger records.
    pub call_id: String,
}

/// Live output of a streamed call: never persisted, forwarded to SSE subscribers.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// A piece of the answer's text.
    Text(String),
    /// The call ended: `completed`, `failed` or `cancelled`.
    End { reason: String, detail: Option<String> },
}

/// Where live frames go (the gateway's in-process hub). Publishing never blocks on readers.
pub trait DeltaSink: Send + Sync {
    fn publish(&self, call: &CallRef, delta: Delta);
}
