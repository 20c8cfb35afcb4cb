//! A test-only LLM provider (`hostile`) whose model name says how to misbehave: `trap`
//! panics, `spin` loops forever, `oom` allocates without end; any other model answers "ok".

use abstractgateway_sdk::llm::*;
use abstractgateway_sdk::prelude::*;

struct Hostile;

impl LlmProvider for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo::new("test-hostile-llm", env!("CARGO_PKG_VERSION")).description("Misbehaves on request")
    }

    fn providers() -> Vec<ProviderInfo> {
        vec![ProviderInfo::new("hostile", "Hostile", None, true)]
    }

    fn list_models(_provider: &str) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(["ok", "trap", "spin", "oom"].into_iter().map(ModelInfo::new).collect())
    }

    fn chat(request: ChatRequest) -> Result<ChatResponse, LlmError> {
        match request.model.as_str() {
            "trap" => panic!("hostile provider: trap on request"),
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            _ => Ok(ChatResponse {
                id: "hostile-1".into(),
                model: request.model,
                text: Some("ok".into()),
                tool_calls: Vec::new(),
                finish_reason: FinishReason::Stop,
                usage: None,
            }),
        }
    }
}

export_llm_provider!(Hostile);
