//! LLM provider plugins (`llm-provider` world): which provider ids they serve, routing a
//! request to one, rate-limit retries, and forwarding streamed text while a call runs.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use agw_domain::NodeFailure;
use agw_domain::llm::{CallRef, ChatAnswer, ChatRequest, Delta, DeltaSink, ToolCall, Usage};
use serde::Serialize;
use serde_json::{Value, json};
use wasmtime::Store;

use crate::Shared;
use crate::bindings::{LlmProvider, LlmProviderPre, PluginState, StreamDelta, llm};
use crate::call::bounded;
use crate::policy::Grant;
use crate::registry::{LoadedPlugin, Registry};
use crate::session::{explain, fresh_store};
use crate::summary::LlmProviderSummary;

/// Retries of a rate-limited call before the step fails.
const MAX_RATE_LIMIT_RETRIES: u32 = 3;
/// Longest wait before a retry, whatever `retry-after` says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// First backoff when the provider sent no `retry-after` (doubled at each retry).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The `output.text` route used by `llm_call` nodes that name no provider or model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmDefaults {
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Where they came from, for messages (`ABSTRACTGATEWAY_PROVIDER`, a file's path...).
    pub source: Option<String>,
}

/// A model a provider lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSummary {
    pub id: String,
    pub owned_by: Option<String>,
    pub context_length: Option<u32>,
}

/// A live instance of a provider plugin in its own store.
pub(crate) struct LiveLlm {
    pub(crate) store: Store<PluginState>,
    pub(crate) bindings: LlmProvider,
}

impl LiveLlm {
    pub(crate) fn new(
        shared: &Shared,
        plugin: Arc<str>,
        grant: Arc<Grant>,
        pre: &LlmProviderPre<PluginState>,
    ) -> wasmtime::Result<Self> {
        let mut store = fresh_store(shared, plugin, grant, None)?;
        let clock = store.data().clock();
        let bindings = bounded(&clock, pre.instantiate_async(&mut store))?;
        Ok(Self { store, bindings })
    }

    fn arm(&mut self) {
        crate::session::arm(&mut self.store);
    }
}

/// The provider ids a plugin serves under `grant` (asked once per load).
pub(crate) fn providers(
    shared: &Shared,
    name: &str,
    grant: Arc<Grant>,
    pre: &LlmProviderPre<PluginState>,
) -> Result<Vec<LlmProviderSummary>, String> {
    let mut live = LiveLlm::new(shared, Arc::from(name), grant, pre)
        .map_err(|e| format!("cannot be instantiated: {}", first_line(&e)))?;
    let clock = live.store.data().clock();
    let answer = bounded(&clock, live.bindings.abstractgateway_plugin_llm().call_providers(&mut live.store))
        .map_err(|e| format!("providers() failed: {}", explain(&e, &live.store)))?;
    let scrub = |text: String| live.store.data().grant.scrub(&text);
    Ok(answer
        .into_iter()
        .filter(|p| !p.id.trim().is_empty())
        .map(|p| LlmProviderSummary {
            id: p.id,
            display_name: p.display_name,
            base_url: p.base_url.map(scrub),
            configured: p.configured,
        })
        .collect())
}

/// The models `provider` lists, through the plugin that serves it.
pub(crate) fn list_models(shared: &Shared, registry: &Registry, provider: &str) -> Result<Vec<ModelSummary>, String> {
    let plugin = registry.llm_provider(provider)?;
    let mut live = instantiate(shared, plugin)?;
    let clock = live.store.data().clock();
    let answer =
        bounded(&clock, live.bindings.abstractgateway_plugin_llm().call_list_models(&mut live.store, provider));
    let grant = plugin.grant.clone();
    match answer {
        Ok(Ok(models)) => Ok(models
            .into_iter()
            .map(|m| ModelSummary { id: m.id, owned_by: m.owned_by, context_length: m.context_length })
            .collect()),
        Ok(Err(error)) => Err(grant.scrub(&llm_error_text(&error))),
        Err(trap) => Err(grant.scrub(&format!("plugin '{}' {}", plugin.name, explain(&trap, &live.store)))),
    }
}

fn instantiate(shared: &Shared, plugin: &LoadedPlugin) -> Result<LiveLlm, String> {
    let pre = plugin.llm.as_ref().ok_or_else(|| format!("plugin '{}' is not an LLM provider", plugin.name))?;
    LiveLlm::new(shared, plugin.name.clone(), plugin.grant.clone(), pre)
        .map_err(|e| format!("plugin '{}' could not be instantiated: {}", plugin.name, first_line(&e)))
}

/// Routes `request` (an `llm_call` step of `call`) to its provider and answers the whole
/// response. Streamed text goes to `sink` as it arrives. The call's end is answered too,
/// when streamed, for the caller to publish once the answer is journaled.
pub(crate) fn chat(
    shared: &Shared,
    registry: &Registry,
    call: &CallRef,
    request: &ChatRequest,
    sink: Option<&Arc<dyn DeltaSink>>,
) -> (Result<ChatAnswer, NodeFailure>, Option<Delta>) {
    let sink = sink.filter(|_| request.stream);
    let answer = route_and_call(shared, registry, call, request, sink);
    let end = sink.map(|_| {
        let (reason, detail) = match &answer {
            Ok(_) => ("completed", None),
            Err(failure) => ("failed", Some(failure.message.clone())),
        };
        Delta::End { reason: reason.to_owned(), detail }
    });
    (answer, end)
}

fn route_and_call(
    shared: &Shared,
    registry: &Registry,
    call: &CallRef,
    request: &ChatRequest,
    sink: Option<&Arc<dyn DeltaSink>>,
) -> Result<ChatAnswer, NodeFailure> {
    let fail = |message: String| NodeFailure { message: format!("llm_call node '{}': {message}", call.node_id) };
    let defaults = &shared.config.llm_defaults;
    let (provider, model) = route(request, defaults).map_err(fail)?;
    let plugin = registry.llm_provider(&provider).map_err(fail)?;
    let served = plugin.summary.llm_providers.iter().find(|p| p.id == provider);
    if served.is_some_and(|p| !p.configured) {
        return Err(fail(format!("LLM provider '{provider}' is not configured: {}", settings_hint(&provider))));
    }
    let grant = plugin.grant.clone();
    let scrubbed = |failure: NodeFailure| NodeFailure { message: grant.scrub(&failure.message) };
    let mut live = instantiate(shared, plugin).map_err(fail)?;
    let began = Instant::now();
    let first_text: Arc<OnceLock<Instant>> = Arc::default();
    if let Some(sink) = sink {
        let (sink, call, first_text) = (sink.clone(), call.clone(), first_text.clone());
        live.store.data_mut().deltas = Some(Box::new(move |delta| {
            if let StreamDelta::Text(text) = delta
                && !text.is_empty()
            {
                first_text.get_or_init(Instant::now);
                sink.publish(&call, Delta::Text(text));
            }
        }));
    }
    let wit_request = to_wit(request, &provider, &model);
    let mut attempts = 0;
    loop {
        attempts += 1;
        live.arm();
        let clock = live.store.data().clock();
        let answer =
            bounded(&clock, live.bindings.abstractgateway_plugin_llm().call_chat(&mut live.store, &wit_request));
        let denial = live.store.data().net.take_denial();
        match answer {
            Ok(Ok(response)) => {
                let plugin_ref = json!({
                    "name": plugin.summary.name, "version": plugin.summary.version, "sha256": plugin.summary.sha256,
                });
                let mut answer = from_wit(response, provider, plugin_ref, attempts);
                answer.text = grant.scrub(&answer.text);
                answer.elapsed_ms = began.elapsed().as_secs_f64() * 1000.0;
                answer.ttft_ms = first_text.get().map(|t| t.duration_since(began).as_secs_f64() * 1000.0);
                return Ok(answer);
            }
            Ok(Err(llm::LlmError::RateLimited(limit))) if attempts <= MAX_RATE_LIMIT_RETRIES => {
                let backoff = FIRST_BACKOFF.saturating_mul(1 << (attempts - 1));
                let wait = limit.retry_after_ms.map_or(backoff, Duration::from_millis).min(MAX_RETRY_WAIT);
                tracing::info!(provider = %provider, attempt = attempts, wait_ms = wait.as_millis() as u64, "LLM provider rate-limited; retrying");
                std::thread::sleep(wait);
            }
            Ok(Err(error)) => {
                let mut message = format!("LLM provider '{provider}' failed: {}", llm_error_text(&error));
                if let llm::LlmError::RateLimited(_) = error {
                    message.push_str(&format!(" (gave up after {attempts} attempts)"));
                }
                if let Some(denial) = denial {
                    message.push_str(&format!(" (gateway: {denial})"));
                }
                return Err(scrubbed(fail(message)));
            }
            Err(trap) => {
                let what = explain(&trap, &live.store);
                return Err(scrubbed(fail(format!("LLM provider '{provider}': plugin '{}' {what}", plugin.name))));
            }
        }
    }
}

/// The provider and model a request goes to: its own, else the `output.text` default.
fn route(request: &ChatRequest, defaults: &LlmDefaults) -> Result<(String, String), String> {
    let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let provider = set(&request.provider).or_else(|| set(&defaults.provider)).ok_or_else(|| {
        "it names no provider and no default is configured: set ABSTRACTGATEWAY_PROVIDER and \
         ABSTRACTGATEWAY_MODEL, or the output.text route of ABSTRACTGATEWAY_CAPABILITY_DEFAULTS"
            .to_owned()
    })?;
    // A default model only goes with the default provider it was configured for.
    let default_model = if set(&request.provider).is_none() || set(&request.provider) == set(&defaults.provider) {
        set(&defaults.model)
    } else {
        None
    };
    let model = set(&request.model).or(default_model).ok_or_else(|| {
        format!(
            "it names provider '{provider}' but no model, and no default model is configured for it: set the \
             node's model, or ABSTRACTGATEWAY_MODEL (with ABSTRACTGATEWAY_PROVIDER={provider})"
        )
    })?;
    Ok((provider, model))
}

/// The settings that configure a provider id the seeds know.
fn settings_hint(provider: &str) -> String {
    match provider {
        "openai" => "set OPENAI_API_KEY (and OPENAI_BASE_URL for another endpoint)".into(),
        "openrouter" => "set OPENROUTER_API_KEY".into(),
        "vllm" => "set VLLM_BASE_URL (and VLLM_API_KEY if it needs one)".into(),
        "openai-compatible" => "set OPENAI_COMPATIBLE_BASE_URL (and OPENAI_COMPATIBLE_API_KEY)".into(),
        "anthropic" => "set ANTHROPIC_API_KEY".into(),
        "lmstudio" => "set LMSTUDIO_BASE_URL".into(),
        "ollama" => "set OLLAMA_BASE_URL".into(),
        other => format!("grant the plugin serving '{other}' its settings in plugins.toml"),
    }
}

fn llm_error_text(error: &llm::LlmError) -> String {
    match error {
        llm::LlmError::Auth(m) => format!("authentication failed: {m}"),
        llm::LlmError::RateLimited(limit) => format!("rate limited: {}", limit.message),
        llm::LlmError::InvalidRequest(m) => format!("invalid request: {m}"),
        llm::LlmError::Unavailable(m) => format!("unavailable: {m}"),
        llm::LlmError::Other(m) => m.clone(),
    }
}

fn to_wit(request: &ChatRequest, provider: &str, model: &str) -> llm::ChatRequest {
    let messages = request
        .messages
        .iter()
        .map(|m| llm::Message {
            role: match m.role.as_str() {
                "system" => llm::Role::System,
                "assistant" => llm::Role::Assistant,
                "tool" => llm::Role::Tool,
                _ => llm::Role::User,
            },
            content: vec![llm::ContentPart::Text(m.content.clone())],
            name: m.name.clone(),
            tool_calls: m.tool_calls.iter().map(tool_call_to_wit).collect(),
            tool_call_id: m.tool_call_id.clone(),
        })
        .collect();
    let tools = request
        .tools
        .iter()
        .map(|t| llm::ToolDefinition {
            name: t.name.clone(),
            description: t.description.clone(),
            parameters: t.parameters.to_string(),
        })
        .collect();
    let response_format = request.response_schema.as_ref().map(|schema| {
        llm::ResponseFormat::JsonSchema(llm::JsonSchemaFormat {
            name: schema.get("title").and_then(Value::as_str).unwrap_or("response").to_owned(),
            schema: schema.to_string(),
            strict: false,
        })
    });
    llm::ChatRequest {
        provider: provider.to_owned(),
        model: model.to_owned(),
        messages,
        tools,
        tool_choice: None,
        response_format,
        temperature: request.temperature.map(|t| t as f32),
        max_tokens: request.max_tokens,
        seed: request.seed.and_then(|s| u64::try_from(s).ok()),
        stop: request.stop.clone(),
        stream: request.stream,
        extra: None,
    }
}

fn tool_call_to_wit(call: &ToolCall) -> llm::ToolCall {
    llm::ToolCall { id: call.id.clone(), name: call.name.clone(), arguments: call.arguments.to_string() }
}

fn from_wit(response: llm::ChatResponse, provider: String, plugin: Value, attempts: u32) -> ChatAnswer {
    let finish_reason = match response.finish_reason {
        llm::FinishReason::Stop => "stop",
        llm::FinishReason::Length => "length",
        llm::FinishReason::ToolCalls => "tool_calls",
        llm::FinishReason::ContentFilter => "content_filter",
        llm::FinishReason::Other => "other",
    };
    ChatAnswer {
        provider,
        model: response.model,
        text: response.text.unwrap_or_default(),
        tool_calls: response
            .tool_calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                name: c.name,
                // Arguments the model garbled stay visible as text rather than failing the step.
                arguments: serde_json::from_str(&c.arguments).unwrap_or(Value::String(c.arguments)),
            })
            .collect(),
        finish_reason: finish_reason.to_owned(),
        usage: response.usage.map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            total_tokens: u.total_tokens,
        }),
        plugin,
        attempts,
        elapsed_ms: 0.0,
        ttft_ms: None,
    }
}

fn first_line(error: &wasmtime::Error) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn defaults(provider: Option<&str>, model: Option<&str>) -> LlmDefaults {
        LlmDefaults { provider: provider.map(Into::into), model: model.map(Into::into), source: None }
    }

    #[test]
    fn a_node_s_own_provider_and_model_win_and_auto_nodes_take_the_default() {
        let mut request =
            ChatRequest { provider: Some("openai".into()), model: Some("gpt".into()), ..Default::default() };
        let d = defaults(Some("lmstudio"), Some("qwen"));
        assert_eq!(route(&request, &d).unwrap(), ("openai".into(), "gpt".into()));
        request.provider = None;
        request.model = None;
        assert_eq!(route(&request, &d).unwrap(), ("lmstudio".into(), "qwen".into()));
        // A node naming another provider does not borrow the default provider's model.
        request.provider = Some("openai".into());
        let error = route(&request, &d).unwrap_err();
        assert!(error.contains("provider 'openai' but no model"), "{error}");
        let error = route(&ChatRequest::default(), &LlmDefaults::default()).unwrap_err();
        assert!(error.contains("ABSTRACTGATEWAY_PROVIDER"), "{error}");
    }
}
