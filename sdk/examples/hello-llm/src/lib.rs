//! The smallest useful LLM provider: chat and models of one OpenAI-compatible endpoint.

use abstractgateway_sdk::llm::*;
use abstractgateway_sdk::prelude::*;

struct HelloLlm;

/// The endpoint the operator configured, or an error saying what to set.
fn endpoint() -> Result<Endpoint, LlmError> {
    let base_url = config::get("HELLO_LLM_BASE_URL");
    let base_url = base_url.ok_or_else(|| LlmError::Other("provider 'hello-llm': set HELLO_LLM_BASE_URL".into()))?;
    Ok(Endpoint::new("hello-llm", &base_url))
}

impl LlmProvider for HelloLlm {
    fn describe() -> PluginInfo {
        PluginInfo::new("hello-llm", env!("CARGO_PKG_VERSION"))
            .description("Chat with one OpenAI-compatible endpoint")
            .config_key("HELLO_LLM_BASE_URL")
            .outbound_host("*", &["GET", "POST"])
    }

    fn providers() -> Vec<ProviderInfo> {
        let base_url = config::get("HELLO_LLM_BASE_URL");
        vec![ProviderInfo::new("hello-llm", "Hello LLM", base_url.clone(), base_url.is_some())]
    }

    fn list_models(_provider: &str) -> Result<Vec<ModelInfo>, LlmError> {
        let endpoint = endpoint()?;
        let answer = endpoint.send_json(http::get(&endpoint.url("/models")))?;
        let models = answer["data"].as_array().cloned().unwrap_or_default();
        Ok(models.iter().filter_map(|m| m["id"].as_str()).map(ModelInfo::new).collect())
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let endpoint = endpoint()?;
        let messages: Vec<Value> =
            request.messages.iter().map(|m| json!({ "role": m.role.as_str(), "content": m.text() })).collect();
        let body = json!({ "model": request.model, "messages": messages, "max_tokens": request.max_tokens });
        let answer = endpoint.send_json(http::post(&endpoint.url("/chat/completions")).json(&body))?;
        let choice = &answer["choices"][0];
        let text = choice["message"]["content"].as_str().ok_or_else(|| endpoint.unavailable("answered no text"))?;
        Ok(ChatResponse {
            id: answer["id"].as_str().unwrap_or_default().to_owned(),
            model: answer["model"].as_str().unwrap_or(&request.model).to_owned(),
            text: Some(text.to_owned()),
            tool_calls: Vec::new(),
            finish_reason: if choice["finish_reason"] == "length" { FinishReason::Length } else { FinishReason::Stop },
            usage: None,
        })
    }
}

export_llm_provider!(HelloLlm);
