//! Streamed pieces of an answer, handed to the gateway while `chat` runs (`llm-stream.emit`).
//!
//! The gateway forwards them live to the run's event stream and persists none of them: the
//! response `chat` returns is what the run records, so it must still hold the whole answer.
//! Emit text as each delta arrives, and a tool call once its arguments are complete.

use super::ToolCall;
use abstractgateway_sdk_llm_bindings::abstractgateway::plugin::llm as wit_llm;
use abstractgateway_sdk_llm_bindings::abstractgateway::plugin::llm_stream as wit;

/// One streamed piece of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// Text, as it arrived.
    Text(String),
    /// A tool call, once complete.
    ToolCall(ToolCall),
}

/// Hands `delta` to the gateway.
pub fn emit(delta: &Delta) {
    match delta {
        Delta::Text(text) => emit_text(text),
        Delta::ToolCall(call) => emit_tool_call(call),
    }
}

/// Hands a piece of text to the gateway (nothing is sent for an empty string).
pub fn emit_text(text: &str) {
    if !text.is_empty() {
        wit::emit(&wit::StreamDelta::Text(text.to_owned()));
    }
}

/// Hands a complete tool call to the gateway.
pub fn emit_tool_call(call: &ToolCall) {
    let call = wit_llm::ToolCall { id: call.id.clone(), name: call.name.clone(), arguments: call.arguments.clone() };
    wit::emit(&wit::StreamDelta::ToolCall(call));
}
