//! `openai-compatible`: an LLM provider for any endpoint that speaks the OpenAI chat-completions
//! API. It serves the provider ids `openai`, `lmstudio`, `ollama`, `vllm`, `openrouter` and
//! `openai-compatible` (see `providers.rs` for where each one's base URL and key come from).
//!
//! It requests outbound HTTP to any host; the gateway grants it only the hosts of the base
//! URLs the operator configured. The wire format is in `wire.rs` (pure functions, tested
//! natively); this file only reads settings and makes the HTTP calls.

mod providers;
mod wire;

#[cfg(test)]
mod tests;

use abstractgateway_sdk::llm::{
    ChatRequest, ChatResponse, Endpoint, LlmError, LlmProvider, ModelInfo, ProviderInfo, stream,
};
use abstractgateway_sdk::{PluginInfo, config, export_llm_provider, http};

use providers::{PROVIDERS, Resolved};

struct OpenAiCompatible;

fn resolve(id: &str) -> Result<Resolved, LlmError> {
    providers::resolve(id, &config::get, &config::secret).ok_or_else(|| {
        LlmError::InvalidRequest(format!("provider '{id}' is not served by the openai-compatible plugin"))
    })
}

/// A request to `path` under the endpoint's base URL, with its key when it has one.
fn authorized(endpoint: &Endpoint, method: &str, path: &str) -> http::Request {
    let request = http::request(method, &endpoint.url(path));
    match endpoint.key() {
        Some(key) => request.bearer(key),
        None => request,
    }
}

impl LlmProvider for OpenAiCompatible {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new("openai-compatible", env!("CARGO_PKG_VERSION"))
            .description(
                "LLM provider for OpenAI-compatible endpoints (OpenAI, LM Studio, Ollama, vLLM, OpenRouter...)",
            )
            .outbound_host("*", &["GET", "POST"]);
        let info = providers::CONFIG_KEYS.iter().copied().fold(info, PluginInfo::config_key);
        providers::SECRETS.iter().copied().fold(info, PluginInfo::secret)
    }

    fn providers() -> Vec<ProviderInfo> {
        PROVIDERS.iter().filter_map(|spec| resolve(spec.id).ok()).map(|r| r.info()).collect()
    }

    fn list_models(provider: &str) -> Result<Vec<ModelInfo>, LlmError> {
        let endpoint = resolve(provider)?.endpoint()?;
        let response = authorized(&endpoint, "GET", "/models").send().map_err(|e| endpoint.http_error(&e))?;
        wire::models_answer(&endpoint, response.status, &response.headers, &response.body)
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let endpoint = resolve(&request.provider)?.endpoint()?;
        let body = wire::chat_body(&request)
            .map_err(|e| endpoint.invalid_request(&format!("cannot be sent this request: {e}")))?;
        let call = authorized(&endpoint, "POST", "/chat/completions").json(&body);
        let mut emit = |delta: stream::Delta| stream::emit(&delta);
        if !request.stream {
            let response = call.send().map_err(|e| endpoint.http_error(&e))?;
            return wire::chat_answer(&endpoint, response.status, &response.headers, &response.body, &request.model);
        }
        let mut events = endpoint.open_sse(call)?;
        if !events.is_event_stream() {
            let response = wire::parse_chat(&endpoint, &events.read_json()?, &request.model)?;
            wire::emit_whole(&response, &mut emit);
            return Ok(response);
        }
        wire::read_stream(&endpoint, std::iter::from_fn(|| events.next_event().transpose()), &request.model, &mut emit)
    }
}

export_llm_provider!(OpenAiCompatible);
