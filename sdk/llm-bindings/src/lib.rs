//! Generated bindings of the gateway's `llm-provider` world, used by `abstractgateway-sdk`
//! (which re-exports them as `abstractgateway_sdk::llm_bindings`). Plugin code should use the
//! SDK's `llm` module and `export_llm_provider!` instead.
//!
//! They live in a crate of their own because every world exports `plugin`: two
//! `wit_bindgen::generate!` calls with exported macros in one crate would both define
//! `__export_abstractgateway_plugin_plugin_0_1_0_cabi` at the crate root.

#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../wit",
    world: "llm-provider",
    pub_export_macro: true,
    export_macro_name: "__export_llm_provider_world",
    default_bindings_module: "abstractgateway_sdk::llm_bindings",
    additional_derives: [PartialEq],
});

use exports::abstractgateway::plugin::llm::{ContentPart, LlmError, Message, ModelInfo, ProviderInfo, Role};

impl Role {
    /// The role's name as the OpenAI and Anthropic APIs spell it: `system`, `user`,
    /// `assistant`, `tool`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

impl Message {
    /// The message's text parts joined with `\n` (images left out).
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|part| match part {
                ContentPart::Text(text) => Some(text.as_str()),
                ContentPart::Image(_) => None,
            })
            .collect();
        texts.join("\n")
    }
}

impl LlmError {
    /// The error's message, whatever its kind.
    pub fn message(&self) -> &str {
        match self {
            LlmError::Auth(m) | LlmError::InvalidRequest(m) | LlmError::Unavailable(m) | LlmError::Other(m) => m,
            LlmError::RateLimited(limit) => &limit.message,
        }
    }
}

impl ModelInfo {
    /// A model known by its id only.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), owned_by: None, context_length: None }
    }
}

impl ProviderInfo {
    /// A provider id served by the plugin, with the base URL it calls (never a key) and
    /// whether the operator configured it.
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        base_url: Option<String>,
        configured: bool,
    ) -> Self {
        Self { id: id.into(), display_name: display_name.into(), base_url, configured }
    }
}
