//! LLM provider plugins: the `llm-provider` world in plain Rust.
//!
//! Implement [`LlmProvider`] for a type and export it with
//! [`export_llm_provider!`](crate::export_llm_provider). One plugin may serve several provider
//! ids (an OpenAI-compatible adapter serves `openai`, `lmstudio`, `ollama`...); the gateway
//! routes each call by [`ChatRequest::provider`].
//!
//! ```ignore
//! use abstractgateway_sdk::llm::*;
//! use abstractgateway_sdk::prelude::*;
//!
//! struct Echo;
//!
//! impl LlmProvider for Echo {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("echo-llm", env!("CARGO_PKG_VERSION"))
//!     }
//!     fn providers() -> Vec<ProviderInfo> {
//!         vec![ProviderInfo::new("echo", "Echo", None, true)]
//!     }
//!     fn list_models(_provider: &str) -> Result<Vec<ModelInfo>, LlmError> {
//!         Ok(vec![ModelInfo::new("echo-1")])
//!     }
//!     fn chat(request: ChatRequest) -> Result<ChatResponse, LlmError> {
//!         let text = request.messages.last().map(Message::text).unwrap_or_default();
//!         if request.stream {
//!             stream::emit_text(&text);
//!         }
//!         Ok(ChatResponse {
//!             id: "echo".into(),
//!             model: request.model,
//!             text: Some(text),
//!             tool_calls: vec![],
//!             finish_reason: FinishReason::Stop,
//!             usage: None,
//!         })
//!     }
//! }
//!
//! export_llm_provider!(Echo);
//! ```
//!
//! What a provider usually needs besides the records:
//! - [`Endpoint`]: a provider id, its base URL and key; it sends requests and turns HTTP
//!   statuses, transport failures and malformed answers into [`LlmError`]s that name the
//!   provider and the base URL, never the key;
//! - [`Endpoint::open_sse`] and [`sse`](crate::sse): streamed answers, event by event, as
//!   they arrive;
//! - [`stream`]: hand text deltas and finished tool calls to the gateway while `chat` runs.

mod endpoint;
pub mod stream;

pub use abstractgateway_sdk_llm_bindings::exports::abstractgateway::plugin::llm::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, ImageDetail, ImagePart, ImageSource, InlineImage,
    JsonSchemaFormat, LlmError, Message, ModelInfo, ProviderInfo, RateLimit, ResponseFormat, Role, ToolCall,
    ToolChoice, ToolDefinition, Usage,
};
pub use endpoint::{Endpoint, SseStream, provider_message, retry_after_ms};
pub use stream::Delta;

use crate::PluginInfo;

/// A plugin that adapts one or more LLM providers. Export it with
/// [`export_llm_provider!`](crate::export_llm_provider).
///
/// Each call runs in a fresh instance: read configuration and secrets in the call, and keep no
/// state between calls.
pub trait LlmProvider {
    /// Who the plugin is and which capabilities it requests (its config keys, secrets and
    /// outbound hosts).
    fn describe() -> PluginInfo;
    /// The provider ids it serves, with the base URL each calls and whether it is configured.
    fn providers() -> Vec<ProviderInfo>;
    /// The models `provider` offers.
    fn list_models(provider: &str) -> Result<Vec<ModelInfo>, LlmError>;
    /// One chat completion. With `request.stream`, hand the pieces to [`stream`] as they
    /// arrive, and still answer the whole response.
    fn chat(request: ChatRequest) -> Result<ChatResponse, LlmError>;
}

/// Standard base64 (with padding) of `bytes`, e.g. for inline images.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An inline image as a `data:` URL (`data:image/png;base64,...`).
pub fn data_url(image: &InlineImage) -> String {
    format!("data:{};base64,{}", image.mime_type, base64(&image.data))
}

/// What the export macro calls. Not part of the public API.
#[doc(hidden)]
pub mod glue {
    use abstractgateway_sdk_llm_bindings::abstractgateway::plugin::types as wit;

    use super::{ChatRequest, ChatResponse, LlmError, LlmProvider, ModelInfo, ProviderInfo};
    use crate::Workspace;

    /// `plugin.describe`.
    pub fn describe<P: LlmProvider>() -> wit::PluginInfo {
        let info = P::describe();
        wit::PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            sdk_version: crate::SDK_VERSION.to_owned(),
            capabilities: wit::Capabilities {
                outbound_hosts: info
                    .hosts
                    .into_iter()
                    .map(|(host, methods)| wit::HostRequest { host, methods })
                    .collect(),
                workspace: match info.workspace {
                    Workspace::None => wit::WorkspaceAccess::None,
                    Workspace::Read => wit::WorkspaceAccess::Read,
                    Workspace::ReadWrite => wit::WorkspaceAccess::ReadWrite,
                },
                config_keys: info.config_keys,
                secrets: info.secrets,
                memory_mib: info.memory_mib,
            },
        }
    }

    /// `llm.providers`.
    pub fn providers<P: LlmProvider>() -> Vec<ProviderInfo> {
        P::providers()
    }

    /// `llm.list-models`.
    pub fn list_models<P: LlmProvider>(provider: &str) -> Result<Vec<ModelInfo>, LlmError> {
        P::list_models(provider)
    }

    /// `llm.chat`.
    pub fn chat<P: LlmProvider>(request: ChatRequest) -> Result<ChatResponse, LlmError> {
        P::chat(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_the_rfc() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
        let image = InlineImage { mime_type: "image/png".into(), data: vec![1, 2, 3] };
        assert_eq!(data_url(&image), "data:image/png;base64,AQID");
    }
}
