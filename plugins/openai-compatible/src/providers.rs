//! The provider ids this plugin serves, where each one's base URL and key come from, and when
//! it counts as configured.

use abstractgateway_sdk::Secret;
use abstractgateway_sdk::llm::{Endpoint, LlmError, ProviderInfo};

/// When a provider counts as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Configured {
    /// A key or a base URL is set (`openai`: a custom base URL may need no key).
    KeyOrBaseUrl,
    /// A key is set.
    Key,
    /// Always: a local server with a default address.
    Always,
    /// A base URL is set (no default).
    BaseUrl,
}

/// One provider id.
#[derive(Debug)]
pub struct Spec {
    pub id: &'static str,
    pub display_name: &'static str,
    /// The configuration key holding its base URL.
    pub base_url_key: Option<&'static str>,
    pub default_base_url: Option<&'static str>,
    /// The secret holding its key.
    pub key_secret: Option<&'static str>,
    configured: Configured,
    /// The OpenAI-compatible API lives under `/v1`, which the base URL may or may not say.
    ensure_v1: bool,
}

pub const PROVIDERS: &[Spec] = &[
    Spec {
        id: "openai",
        display_name: "OpenAI",
        base_url_key: Some("OPENAI_BASE_URL"),
        default_base_url: Some("https://api.openai.com/v1"),
        key_secret: Some("OPENAI_API_KEY"),
        configured: Configured::KeyOrBaseUrl,
        ensure_v1: false,
    },
    Spec {
        id: "lmstudio",
        display_name: "LM Studio",
        base_url_key: Some("LMSTUDIO_BASE_URL"),
        default_base_url: Some("http://localhost:1234/v1"),
        key_secret: None,
        configured: Configured::Always,
        ensure_v1: false,
    },
    Spec {
        id: "ollama",
        display_name: "Ollama",
        base_url_key: Some("OLLAMA_BASE_URL"),
        default_base_url: Some("http://localhost:11434"),
        key_secret: None,
        configured: Configured::Always,
        ensure_v1: true,
    },
    Spec {
        id: "vllm",
        display_name: "vLLM",
        base_url_key: Some("VLLM_BASE_URL"),
        default_base_url: None,
        key_secret: Some("VLLM_API_KEY"),
        configured: Configured::BaseUrl,
        ensure_v1: false,
    },
    Spec {
        id: "openrouter",
        display_name: "OpenRouter",
        base_url_key: Some("OPENROUTER_BASE_URL"),
        default_base_url: Some("https://openrouter.ai/api/v1"),
        key_secret: Some("OPENROUTER_API_KEY"),
        configured: Configured::Key,
        ensure_v1: false,
    },
    Spec {
        id: "openai-compatible",
        display_name: "OpenAI-compatible endpoint",
        base_url_key: Some("OPENAI_COMPATIBLE_BASE_URL"),
        default_base_url: None,
        key_secret: Some("OPENAI_COMPATIBLE_API_KEY"),
        configured: Configured::BaseUrl,
        ensure_v1: false,
    },
];

/// A provider id with its settings read.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: &'static Spec,
    /// The base URL it calls (configured or default), without a trailing `/`.
    pub base_url: Option<String>,
    pub key: Option<Secret>,
    pub configured: bool,
}

/// `id`'s settings, read through `get` (configuration) and `secret`; blank values count as
/// unset. `None` for an id this plugin does not serve.
pub fn resolve(
    id: &str,
    get: &dyn Fn(&str) -> Option<String>,
    secret: &dyn Fn(&str) -> Option<Secret>,
) -> Option<Resolved> {
    let spec = PROVIDERS.iter().find(|s| s.id == id)?;
    let configured_base = spec.base_url_key.and_then(get).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let key = spec.key_secret.and_then(secret).filter(|k| !k.expose().trim().is_empty());
    let configured = match spec.configured {
        Configured::KeyOrBaseUrl => key.is_some() || configured_base.is_some(),
        Configured::Key => key.is_some(),
        Configured::Always => true,
        Configured::BaseUrl => configured_base.is_some(),
    };
    let base_url = configured_base.or_else(|| spec.default_base_url.map(str::to_owned)).map(|base| {
        let base = base.trim_end_matches('/').to_owned();
        if spec.ensure_v1 && !base.ends_with("/v1") { format!("{base}/v1") } else { base }
    });
    Some(Resolved { spec, base_url, key, configured })
}

impl Resolved {
    /// What `providers()` reports.
    pub fn info(&self) -> ProviderInfo {
        ProviderInfo::new(self.spec.id, self.spec.display_name, self.base_url.clone(), self.configured)
    }

    /// The endpoint to call, or why it cannot be called (no base URL; no key where one is
    /// needed).
    pub fn endpoint(&self) -> Result<Endpoint, LlmError> {
        let id = self.spec.id;
        let Some(base_url) = &self.base_url else {
            let key = self.spec.base_url_key.unwrap_or("a base URL");
            return Err(LlmError::Other(format!("provider '{id}' is not configured: set {key}")));
        };
        let endpoint = Endpoint::new(id, base_url).with_key(self.key.clone());
        if !self.configured {
            let secret = self.spec.key_secret.unwrap_or("its API key");
            let or_base = (self.spec.configured == Configured::KeyOrBaseUrl)
                .then_some(self.spec.base_url_key)
                .flatten()
                .map(|k| format!(" (or {k} for an endpoint without a key)"));
            return Err(endpoint.auth(&format!("has no API key: set {secret}{}", or_base.unwrap_or_default())));
        }
        Ok(endpoint)
    }
}

/// The configuration keys `describe()` requests: every provider's base URL key.
pub const CONFIG_KEYS: &[&str] = &[
    "OPENAI_BASE_URL",
    "LMSTUDIO_BASE_URL",
    "OLLAMA_BASE_URL",
    "VLLM_BASE_URL",
    "OPENROUTER_BASE_URL",
    "OPENAI_COMPATIBLE_BASE_URL",
];

/// The secrets `describe()` requests: every provider's key.
pub const SECRETS: &[&str] = &["OPENAI_API_KEY", "OPENROUTER_API_KEY", "VLLM_API_KEY", "OPENAI_COMPATIBLE_API_KEY"];
