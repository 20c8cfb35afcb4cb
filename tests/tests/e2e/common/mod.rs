//! The test harness: a gateway assembled exactly as the binary does it, on 127.0.0.1:0,
//! with a temp data dir and the real first-party plugins.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use abstractgateway::config::{Config, Secret, StoreBackend};
use abstractgateway::{Gateway, Launched, launch};
use agw_api::SecurityPolicy;
use agw_domain::bundle::BundleLimits;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token";

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compiled plugins are cached across test runs, so the debug build compiles each once.
fn plugin_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

/// A flows dir holding the project's samples and the reference's pure samples.
pub fn standard_flows(into: &Path) {
    std::fs::create_dir_all(into).expect("flows dir");
    let upstream = std::env::var_os("AGW_UPSTREAM_BUNDLES").map(PathBuf::from);
    for dir in
        [repo().join("flows"), repo().join("tests/data/reference-flows"), repo().join("tests/data/durable-flows")]
            .into_iter()
            .chain(upstream)
    {
        for entry in std::fs::read_dir(&dir).expect("read flows").flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "flow") {
                std::fs::copy(&path, into.join(entry.file_name())).expect("copy bundle");
            }
        }
    }
}

pub struct Options {
    pub flows_dir: PathBuf,
    pub plugins_dir: Option<PathBuf>,
    pub tick_max_steps: u32,
    pub plugin_deadline: Duration,
    pub poll: Duration,
    pub max_sse: usize,
    pub max_bundle_bytes: u64,
    pub bundle_limits: BundleLimits,
    pub fsync: bool,
    pub backend: StoreBackend,
    /// The accepted tokens (default: [`TOKEN`]); empty to test a gateway without any.
    pub tokens: Vec<String>,
    /// `ABSTRACTGATEWAY_SECURITY`.
    pub security: bool,
    /// Origins, caps, lockout and audit log settings.
    pub policy: SecurityPolicy,
    /// Point every LLM provider route (`lmstudio`, `openai`, `openai-compatible`, `vllm`, and
    /// the `output.text` default `openai`/`fake-chat`) at this base URL, through the operator
    /// policy of the first-party `openai-compatible` plugin.
    pub fake_llm: Option<String>,
}

impl Options {
    pub fn new(flows_dir: PathBuf) -> Self {
        let defaults = Config::new(PathBuf::new());
        Self {
            flows_dir,
            plugins_dir: None,
            tick_max_steps: defaults.runner.tuning.tick_max_steps,
            plugin_deadline: defaults.plugins.host.call_deadline,
            poll: Duration::from_millis(50),
            max_sse: defaults.server.max_sse,
            max_bundle_bytes: defaults.server.max_bundle_bytes,
            bundle_limits: defaults.server.bundle_limits,
            fsync: defaults.store.fsync,
            backend: defaults.store.backend,
            tokens: vec![TOKEN.to_owned()],
            security: defaults.security.enabled,
            policy: defaults.security.policy,
            fake_llm: None,
        }
    }
}

pub struct TestGateway {
    /// The fake LLM provider every provider route points at, when there is one.
    pub fake: Option<std::sync::Arc<agw_fake_provider::FakeProvider>>,
    pub base: String,
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    pub gateway: Gateway,
    launched: Option<Launched>,
}

impl TestGateway {
    pub async fn start(data_dir: &Path, options: Options) -> Self {
        let mut config = Config::new(data_dir.to_owned());
        config.server.flows_dir = Some(options.flows_dir);
        config.server.max_sse = options.max_sse;
        config.server.max_bundle_bytes = options.max_bundle_bytes;
        config.server.bundle_limits = options.bundle_limits;
        config.security.tokens = options.tokens.into_iter().map(Secret::new).collect();
        config.security.enabled = options.security;
        config.security.policy = options.policy;
        config.store.fsync = options.fsync;
        config.store.backend = options.backend;
        config.runner.tuning.poll = options.poll;
        config.runner.tuning.tick_max_steps = options.tick_max_steps;
        if let Some(dir) = options.plugins_dir {
            config.plugins.dir = dir;
        }
        if let Some(base_url) = options.fake_llm {
            let dir = config.plugins.dir.clone();
            let dir = if dir.starts_with(data_dir) { data_dir.with_file_name("llm-plugins") } else { dir };
            std::fs::create_dir_all(&dir).expect("plugins dir");
            let routes = ["LMSTUDIO_BASE_URL", "OPENAI_BASE_URL", "OPENAI_COMPATIBLE_BASE_URL", "VLLM_BASE_URL"]
                .map(|key| format!("{key} = \"{base_url}\""))
                .join(", ");
            let policy = format!("[plugins.openai-compatible]\nconfig = {{ {routes} }}\n");
            std::fs::write(dir.join("plugins.toml"), policy).expect("write plugins.toml");
            config.plugins.dir = dir;
            config.plugins.host.llm_defaults = agw_plugins::LlmDefaults {
                provider: Some("openai".into()),
                model: Some("fake-chat".into()),
                source: Some("test".into()),
            };
        }
        config.plugins.host.cache_dir = Some(plugin_cache());
        config.plugins.host.call_deadline = options.plugin_deadline;
        Self::open(config).await
    }

    async fn open(config: Config) -> Self {
        let data_dir = config.data_dir.clone();
        let gateway = Gateway::open(config).expect("gateway opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let launched = launch(&gateway, listener, true).await.expect("launch");
        Self {
            fake: None,
            base: format!("http://{}", launched.addr),
            data_dir,
            client: reqwest::Client::new(),
            gateway,
            launched: Some(launched),
        }
    }

    /// A gateway in `temp` serving the standard flows, ticking at most `tick_max_steps` steps.
    pub async fn standard(temp: &tempfile::TempDir, tick_max_steps: u32) -> Self {
        Self::standard_on(temp, tick_max_steps, StoreBackend::File).await
    }

    /// Like [`standard`](Self::standard), on the given store backend.
    pub async fn standard_on(temp: &tempfile::TempDir, tick_max_steps: u32, backend: StoreBackend) -> Self {
        let flows = temp.path().join("flows");
        standard_flows(&flows);
        let fake = std::sync::Arc::new(agw_fake_provider::FakeProvider::start().await.expect("fake provider"));
        let mut options = Options::new(flows);
        options.tick_max_steps = tick_max_steps;
        options.backend = backend;
        options.fake_llm = Some(fake.base_url());
        let mut gateway = Self::start(&temp.path().join("data"), options).await;
        gateway.fake = Some(fake);
        gateway
    }

    pub async fn stop(mut self) {
        if let Some(launched) = self.launched.take() {
            launched.stop().await.expect("clean stop");
        }
    }

    /// Stops the gateway cleanly and opens a new one on the same data dir and configuration.
    pub async fn restart(self) -> Self {
        self.restart_after(Duration::ZERO).await
    }

    /// Like [`restart`](Self::restart), staying down for `downtime` first.
    pub async fn restart_after(self, downtime: Duration) -> Self {
        let config = self.gateway.config.clone();
        let fake = self.fake.clone();
        self.stop().await;
        tokio::time::sleep(downtime).await;
        let mut gateway = Self::open(config).await;
        gateway.fake = fake;
        gateway
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).bearer_auth(TOKEN).send().await.expect("GET");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.client.post(self.url(path)).bearer_auth(TOKEN).json(&body).send().await.expect("POST");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a run and returns its id.
    pub async fn start_run(&self, body: Value) -> String {
        let (status, answer) = self.post("/api/gateway/runs/start", body).await;
        assert_eq!(status, StatusCode::OK, "start refused: {answer}");
        answer["run_id"].as_str().expect("run_id").to_owned()
    }

    /// Polls the run until `done(view)` or 20 s pass.
    pub async fn wait_for(&self, run_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, view) = self.get(&format!("/api/gateway/runs/{run_id}")).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            if done(&view) {
                return view;
            }
            assert!(Instant::now() < deadline, "run {run_id} never got there: {view}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait_terminal(&self, run_id: &str) -> Value {
        self.wait_for(run_id, |v| matches!(v["status"].as_str(), Some("completed" | "failed" | "cancelled"))).await
    }

    pub async fn ledger(&self, run_id: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/gateway/runs/{run_id}/ledger?limit=5000")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn command(&self, run_id: &str, kind: &str, payload: Value) -> Value {
        let id = format!("{kind}-{}", self.nonce());
        let (status, answer) = self
            .post(
                "/api/gateway/commands",
                json!({"command_id": id, "run_id": run_id, "type": kind, "payload": payload}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    fn nonce(&self) -> u128 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    }
}

/// `{status, effect type, node_id}` per record, the shape flow cases compare.
pub fn ledger_summary(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| json!({"status": r["status"], "effect": r["effect"]["type"], "node_id": r["node_id"]}))
        .collect()
}

/// An object's keys, in order (answers are compared key order included, as clients see them).
pub fn keys(value: &Value) -> Vec<&str> {
    value.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
}

/// Writes `<bundle_id>@0.1.0.flow` into `flows`: one flow, `ask`, whose `llm_call` asks
/// `provider` with the run's `prompt` and `model` inputs and ends with its `response`.
pub fn llm_bundle(flows: &Path, bundle_id: &str, provider: &str) {
    let pin = |id: &str, kind: &str| json!({"id": id, "label": id, "type": kind});
    let node = |id: &str, kind: &str, inputs: Vec<Value>, outputs: Vec<Value>, extra: Value| {
        let mut data = json!({"nodeType": kind, "inputs": inputs, "outputs": outputs});
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        json!({"id": id, "type": kind, "data": data})
    };
    let exec = |id: &str| pin(id, "execution");
    let edge = |s: &str, sh: &str, t: &str, th: &str| json!({"source": s, "sourceHandle": sh, "target": t, "targetHandle": th});
    let flow = json!({"id": "ask", "name": "ask", "nodes": [
        node("start", "on_flow_start", vec![], vec![exec("exec-out"), pin("prompt", "string"), pin("model", "string")], json!({})),
        node("llm", "llm_call", vec![exec("exec-in"), pin("prompt", "string"), pin("model", "model")],
            vec![exec("exec-out"), pin("response", "string")], json!({"effectConfig": {"provider": provider}})),
        node("end", "on_flow_end", vec![exec("exec-in"), pin("response", "string")], vec![], json!({}))],
        "edges": [
            edge("start", "exec-out", "llm", "exec-in"), edge("start", "prompt", "llm", "prompt"),
            edge("start", "model", "llm", "model"), edge("llm", "exec-out", "end", "exec-in"),
            edge("llm", "response", "end", "response")]});
    let manifest = json!({"bundle_format_version": "1", "bundle_id": bundle_id, "bundle_version": "0.1.0",
        "created_at": "2026-12-05T12:00:00+00:00", "entrypoints": [{"flow_id": "ask", "name": "ask", "interfaces": []}],
        "default_entrypoint": "ask", "flows": {"ask": "flows/ask.json"}});
    let files = [("manifest.json", manifest), ("flows/ask.json", flow)]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_string().into_bytes()))
        .collect();
    let zip = agw_domain::bundle::pack_zip(&files).expect("pack");
    std::fs::create_dir_all(flows).expect("flows dir");
    std::fs::write(flows.join(format!("{bundle_id}@0.1.0.flow")), zip).expect("write bundle");
}
