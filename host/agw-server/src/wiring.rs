//! Builds the gateway's parts from its configuration and connects them.

use std::path::Path;
use std::sync::Arc;

use agw_api::live::LiveDeltas;
use agw_api::{PluginDirectory, PluginProblem};
use agw_app::{DataDir, NodeTypes};
use agw_domain::NodeExecutor;
use agw_plugins::policy::PluginPolicy;
use agw_plugins::{DirWatcher, PluginHost, PluginSource};
use agw_store::{BundleSources, FileStore, RunStore, SqliteStore};
use anyhow::Context;

use crate::config::{Config, StoreBackend};
use crate::samples::SAMPLES;

/// The plugins shipped inside the binary, each provider with its built-in policy.
pub fn first_party_plugins() -> Vec<PluginSource> {
    agw_firstparty::EMBEDDED
        .iter()
        .map(|p| {
            let source = PluginSource::first_party(p.name, p.wasm);
            match built_in_policy(p.name) {
                Some(policy) => source.with_default_policy(policy),
                None => source,
            }
        })
        .collect()
}

/// What a first-party provider reads when `plugins.toml` does not mention it: its base URLs
/// and keys from the variables the operator already uses for these providers, and nothing
/// else (each plugin only its own keys). Its hosts are those of the base URLs it reports as
/// configured.
fn built_in_policy(name: &str) -> Option<PluginPolicy> {
    let (config, secrets): (&[&str], &[&str]) = match name {
        "openai-compatible" => (
            &[
                "OPENAI_BASE_URL",
                "LMSTUDIO_BASE_URL",
                "OLLAMA_BASE_URL",
                "VLLM_BASE_URL",
                "OPENROUTER_BASE_URL",
                "OPENAI_COMPATIBLE_BASE_URL",
            ],
            &["OPENAI_API_KEY", "OPENROUTER_API_KEY", "VLLM_API_KEY", "OPENAI_COMPATIBLE_API_KEY"],
        ),
        "anthropic" => (&["ANTHROPIC_BASE_URL"], &["ANTHROPIC_API_KEY"]),
        _ => return None,
    };
    Some(PluginPolicy::from_same_named_env(config, secrets))
}

/// The plugin host as configured, without anything loaded.
pub fn empty_plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    PluginHost::new(config.plugins.host.clone()).context("cannot start the plugin host")
}

/// Starts the plugin host and loads the first-party plugins plus the plugins directory under
/// its policy. A bad plugin is logged and listed, never fatal; an invalid policy file is.
pub fn plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    let host = empty_plugin_host(config)?;
    host.load_dir(&config.plugins.dir, &first_party_plugins()).context("refusing to start")?.log("plugins loaded");
    Ok(host)
}

/// Reloads the plugins directory whenever it changes (when enabled and the directory exists).
pub fn watch_plugins(config: &Config, host: &PluginHost) -> Option<DirWatcher> {
    if !config.plugins.watch || !config.plugins.dir.is_dir() {
        return None;
    }
    match host.watch(&config.plugins.dir, first_party_plugins()) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(dir = %config.plugins.dir.display(), %error, "cannot watch the plugins directory; no hot reload");
            None
        }
    }
}

/// Where bundles come from: uploads (`<data>/bundles`), then the flows directory, or the
/// built-in samples when none is set.
pub fn bundle_sources(config: &Config) -> BundleSources {
    BundleSources {
        uploads_dir: DataDir::new(&config.data_dir).uploads(),
        roots: config.server.flows_dir.iter().cloned().collect(),
        embedded: if config.server.flows_dir.is_some() { &[] } else { SAMPLES },
        limits: config.server.bundle_limits,
        sync: config.store.fsync,
    }
}

/// Opens the run store the configuration names. The SQLite database must lie inside the
/// data dir: a path that points elsewhere would wire another environment's state in.
pub fn run_store(config: &Config) -> anyhow::Result<Arc<dyn RunStore>> {
    Ok(match config.store.backend {
        StoreBackend::File => Arc::new(FileStore::open_with_sync(&config.data_dir, config.store.fsync)?),
        StoreBackend::Sqlite => {
            let db = agw_store::db_path_inside(&config.data_dir, &config.db_path()).context("refusing to start")?;
            tracing::info!(db = %db.display(), "store backend: sqlite");
            Arc::new(SqliteStore::open_with_sync(db, config.store.fsync)?)
        }
    })
}

/// The plugin host as the API and the catalog see it, with the hub its LLM calls stream to.
#[derive(Clone)]
pub struct Plugins {
    pub host: PluginHost,
    pub live: LiveDeltas,
}

impl NodeTypes for Plugins {
    fn generation(&self) -> u64 {
        self.host.generation()
    }

    fn provides(&self, node_type: &str) -> Option<bool> {
        self.host.provides(node_type)
    }

    fn executor(&self, workspace: &Path) -> Box<dyn NodeExecutor + Send> {
        Box::new(self.host.session_in(workspace).with_deltas(Arc::new(self.live.clone())))
    }
}

impl PluginDirectory for Plugins {
    fn plugins(&self) -> Vec<serde_json::Value> {
        self.host.plugins().iter().filter_map(|p| serde_json::to_value(p).ok()).collect()
    }

    fn plugin(&self, name: &str) -> Option<serde_json::Value> {
        self.host.plugin(name).and_then(|p| serde_json::to_value(p).ok())
    }

    fn problems(&self) -> Vec<PluginProblem> {
        self.host.problems().into_iter().map(|p| PluginProblem { label: p.label, reason: p.reason }).collect()
    }

    fn engine(&self) -> serde_json::Value {
        let info = self.host.engine_info();
        serde_json::json!({
            "allocator": info.allocator,
            "pooling_error": info.pooling_error,
            "engine_hash": info.engine_hash,
            "memory_limit_bytes": info.memory_limit_bytes,
            "call_deadline_ms": u64::try_from(info.call_deadline.as_millis()).unwrap_or(u64::MAX),
            "fuel": info.fuel,
        })
    }
}
