//! `anthropic`: an LLM provider for Anthropic's native Messages API (provider id `anthropic`).
//!
//! Settings: `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`, with or without
//! `/v1`) and the secret `ANTHROPIC_API_KEY`. It requests outbound HTTP to any host; the
//! gateway grants it only the host of the configured base URL. The wire format is in
//! `wire.rs` (pure functions, tested natively); this file only reads settings and makes the
//! HTTP calls.

mod wire;

#[cfg(test)]
mod tests;

use abstractgateway_sdk::llm::{
    ChatRequest, ChatResponse, Endpoint, LlmError, LlmProvider, ModelInfo, ProviderInfo, stream,
};
use abstractgateway_sdk::{PluginInfo, Secret, config, export_llm_provider, http};

const ID: &str = "anthropic";
const BASE_URL_KEY: &str = "ANTHROPIC_BASE_URL";
const KEY_SECRET: &str = "ANTHROPIC_API_KEY";
const API_VERSION: &str = "2023-06-01";

struct Anthropic;

fn base_url() -> String {
    wire::base_url(config::get(BASE_URL_KEY).as_deref())
}

fn key() -> Option<Secret> {
    config::secret(KEY_SECRET).filter(|k| !k.expose().trim().is_empty())
}

/// The endpoint, or an `auth` error when no key is set.
fn endpoint(provider: &str) -> Result<Endpoint, LlmError> {
    if provider != ID {
        return Err(LlmError::InvalidRequest(format!("provider '{provider}' is not served by the anthropic plugin")));
    }
    let endpoint = Endpoint::new(ID, &base_url()).with_key(key());
    if endpoint.key().is_none() {
        return Err(endpoint.auth(&format!("has no API key: set {KEY_SECRET}")));
    }
    Ok(endpoint)
}

/// A request to `path` with the key and API version headers.
fn authorized(endpoint: &Endpoint, method: &str, path: &str) -> http::Request {
    let request = http::request(method, &endpoint.url(path)).header("anthropic-version", API_VERSION);
    match endpoint.key() {
        Some(key) => request.header("x-api-key", key.expose()),
        None => request,
    }
}

impl LlmProvider for Anthropic {
    fn describe() -> PluginInfo {
        PluginInfo::new("anthropic", env!("CARGO_PKG_VERSION"))
            .description("LLM provider for Anthropic's Messages API")
            .outbound_host("*", &["GET", "POST"])
            .config_key(BASE_URL_KEY)
            .secret(KEY_SECRET)
    }

    fn providers() -> Vec<ProviderInfo> {
        vec![ProviderInfo::new(ID, "Anthropic", Some(base_url()), key().is_some())]
    }

    fn list_models(provider: &str) -> Result<Vec<ModelInfo>, LlmError> {
        let endpoint = endpoint(provider)?;
        let response =
            authorized(&endpoint, "GET", "/v1/models?limit=1000").send().map_err(|e| endpoint.http_error(&e))?;
        wire::models_answer(&endpoint, response.status, &response.headers, &response.body)
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let endpoint = endpoint(&request.provider)?;
        let (body, answer_tool) = wire::chat_body(&request)
            .map_err(|e| endpoint.invalid_request(&format!("cannot be sent this request: {e}")))?;
        let call = authorized(&endpoint, "POST", "/v1/messages").json(&body);
        let answer_tool = answer_tool.as_ref();
        let mut emit = |delta: stream::Delta| stream::emit(&delta);
        if !request.stream {
            let response = call.send().map_err(|e| endpoint.http_error(&e))?;
            let (status, headers, body) = (response.status, &response.headers, &response.body);
            return wire::chat_answer(&endpoint, status, headers, body, &request.model, answer_tool);
        }
        let mut events = endpoint.open_sse(call)?;
        if !events.is_event_stream() {
            let response = wire::parse_message(&endpoint, &events.read_json()?, &request.model, answer_tool)?;
            wire::emit_whole(&response, &mut emit);
            return Ok(response);
        }
        let events = std::iter::from_fn(|| events.next_event().transpose());
        wire::read_stream(&endpoint, events, &request.model, answer_tool, &mut emit)
    }
}

export_llm_provider!(Anthropic);
