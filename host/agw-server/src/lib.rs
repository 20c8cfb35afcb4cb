//! The gateway assembled: configuration, wiring of stores, plugins, runner and HTTP, and
//! [`launch`], which the binary and the end-to-end tests both use.

pub mod config;
pub mod samples;
pub mod wiring;

use std::net::SocketAddr;
use std::sync::Arc;

use agw_api::live::LiveDeltas;
use agw_api::{ApiConfig, AppState, AuthConfig};
use agw_app::{App, Catalog, DataDir, Runs};
use agw_domain::{Env, SystemEnv};
use agw_plugins::PluginHost;
use agw_runner::{Runner, RunnerHandle, RunnerLock};
use agw_store::{ArtifactStore, RunStore};
use anyhow::Context;
use tokio::sync::watch;

use crate::config::Config;
use crate::wiring::Plugins;

/// The parts of one gateway process on one data dir.
pub struct Gateway {
    pub config: Config,
    pub store: Arc<dyn RunStore>,
    /// The bundles and their compiled flows.
    pub catalog: Arc<Catalog>,
    /// How runs are created, shared by the use cases and the runner.
    pub runs: Arc<Runs>,
    /// The use cases the HTTP edge calls.
    pub app: Arc<App>,
    pub artifacts: Arc<ArtifactStore>,
    pub plugins: PluginHost,
    /// Hot reload of the plugins directory, while held.
    pub plugin_watcher: Option<agw_plugins::DirWatcher>,
    pub env: Arc<dyn Env>,
    pub handle: RunnerHandle,
    /// Streamed LLM text, from the runner's ticks to SSE readers.
    pub live: LiveDeltas,
}

impl Gateway {
    /// Opens the data dir, loads plugins and bundles.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let store = wiring::run_store(&config)?;
        let plugins = wiring::plugin_host(&config)?;
        let plugin_watcher = wiring::watch_plugins(&config, &plugins);
        let data_dir = DataDir::new(&config.data_dir);
        let live = LiveDeltas::default();
        let node_types = Arc::new(Plugins { host: plugins.clone(), live: live.clone() });
        let catalog = Arc::new(Catalog::load(wiring::bundle_sources(&config), node_types)?);
        let artifacts = Arc::new(ArtifactStore::open_with_sync(data_dir.artifacts(), config.store.fsync)?);
        let env: Arc<dyn Env> = Arc::new(SystemEnv);
        let handle = RunnerHandle::default();
        let runs = Arc::new(Runs::new(store.clone(), catalog.clone(), artifacts.clone(), env.clone(), data_dir));
        let wake = Arc::new(handle.clone());
        let app =
            Arc::new(App::new(store.clone(), artifacts.clone(), catalog.clone(), runs.clone(), env.clone(), wake));
        Ok(Self { config, store, catalog, runs, app, artifacts, plugins, plugin_watcher, env, handle, live })
    }

    /// Starts the runner unless another process holds the data dir's runner lock (then the
    /// API serves alone and says so in the log).
    pub fn spawn_runner(&self, shutdown: watch::Receiver<bool>) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let lock = match RunnerLock::acquire(&DataDir::new(&self.config.data_dir)) {
            Ok(lock) => lock,
            Err(agw_runner::LockError::Held { path, holder }) => {
                tracing::warn!(%path, %holder, "another runner holds this data dir; not starting a runner here");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let runner = Runner::new(
            self.store.clone(),
            self.runs.clone(),
            self.env.clone(),
            self.config.runner.tuning,
            self.handle.clone(),
            lock,
        );
        Ok(Some(tokio::spawn(Arc::new(runner).run(shutdown))))
    }

    fn app_state(&self, shutdown: watch::Receiver<bool>) -> AppState {
        let config = ApiConfig {
            poll: self.config.runner.tuning.poll,
            max_sse: self.config.server.max_sse,
            max_bundle_bytes: self.config.server.max_bundle_bytes,
            max_upload_body_bytes: self.config.upload_body_cap(),
            security: self.config.security.policy.clone(),
            ..ApiConfig::default()
        };
        AppState {
            app: self.app.clone(),
            plugins: Arc::new(Plugins { host: self.plugins.clone(), live: self.live.clone() }),
            runner: self.handle.clone(),
            env: self.env.clone(),
            auth: Arc::new(AuthConfig {
                tokens: self.config.security.tokens.iter().map(|token| token.expose().clone()).collect(),
                enabled: self.config.security.enabled,
            }),
            data_dir: DataDir::new(&self.config.data_dir),
            sse_permits: Arc::new(tokio::sync::Semaphore::new(config.max_sse)),
            config,
            shutdown,
            live: self.live.clone(),
        }
    }
}

/// A running gateway: where it listens and how to stop it.
pub struct Launched {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    runner: Option<tokio::task::JoinHandle<()>>,
}

impl Launched {
    /// Stops accepting, ends SSE streams, lets the runner finish its tick, and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await.context("server task")??;
        if let Some(runner) = self.runner {
            runner.await.context("runner task")?;
        }
        Ok(())
    }
}

/// Serves `gateway` on `listener`, with a runner unless `with_runner` is false.
pub async fn launch(
    gateway: &Gateway,
    listener: tokio::net::TcpListener,
    with_runner: bool,
) -> anyhow::Result<Launched> {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let runner =
        if with_runner && gateway.config.runner.enabled { gateway.spawn_runner(shutdown_rx.clone())? } else { None };
    let addr = listener.local_addr()?;
    let server = tokio::spawn(agw_api::serve(listener, gateway.app_state(shutdown_rx)));
    Ok(Launched { addr, shutdown, server, runner })
}

/// Validates a directory bundle under `limits` and packs it into deterministic `.flow` bytes.
pub fn pack_dir(
    source: &std::path::Path,
    limits: &agw_domain::bundle::BundleLimits,
) -> anyhow::Result<(agw_domain::bundle::Bundle, Vec<u8>)> {
    fn collect(
        root: &std::path::Path,
        dir: &std::path::Path,
        files: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                collect(root, &path, files)?;
            } else {
                let rel = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
                files.insert(rel, std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut files = std::collections::BTreeMap::new();
    collect(source, source, &mut files)?;
    let bundle = agw_domain::bundle::Bundle::from_files(files.clone(), limits)
        .with_context(|| format!("{} is not a valid bundle", source.display()))?;
    Ok((bundle, agw_domain::bundle::pack_zip(&files)?))
}
