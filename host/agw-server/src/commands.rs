//! What each subcommand does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use agw_api::{ApiConfig, AppState, AuthConfig};
use agw_domain::bundle::{Bundle, pack_zip};
use agw_domain::{Env, SystemEnv};
use agw_plugins::PluginHost;
use agw_runner::{Runner, RunnerConfig, RunnerHandle, RunnerLock};
use agw_store::{FileStore, RunStore};
use anyhow::Context;
use tokio::sync::watch;

use crate::config::Config;
use crate::wiring::{self, GatewayWorkflows, Plugins};

/// `RUST_LOG` filter (default `info`); `ABSTRACTGATEWAY_LOG_FORMAT=json` for production.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("ABSTRACTGATEWAY_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The parts both `serve` and `runner` need.
struct Gateway {
    config: Config,
    store: Arc<dyn RunStore>,
    workflows: Arc<GatewayWorkflows>,
    catalog: agw_store::SharedCatalog,
    plugins: PluginHost,
    env: Arc<dyn Env>,
    handle: RunnerHandle,
}

fn gateway(config: Config) -> anyhow::Result<Gateway> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let plugins = wiring::plugin_host(&config)?;
    let catalog = wiring::catalog(&config)?;
    let store: Arc<dyn RunStore> = Arc::new(FileStore::open(&config.data_dir)?);
    let workflows = Arc::new(GatewayWorkflows::new(catalog.clone(), plugins.clone()));
    Ok(Gateway { config, store, workflows, catalog, plugins, env: Arc::new(SystemEnv), handle: RunnerHandle::default() })
}

/// Starts the runner on the data dir unless another process holds its lock.
fn spawn_runner(gw: &Gateway, shutdown: watch::Receiver<bool>) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let lock = match RunnerLock::acquire(&gw.config.data_dir) {
        Ok(lock) => lock,
        Err(agw_runner::LockError::Held { .. }) if gw.config.runner_enabled => {
            tracing::warn!("another runner holds this data dir; serving the API only");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let config = RunnerConfig {
        poll: gw.config.poll,
        tick_workers: gw.config.tick_workers,
        tick_max_steps: gw.config.tick_max_steps,
        command_batch: gw.config.command_batch,
    };
    let runner = Arc::new(Runner::new(gw.store.clone(), gw.workflows.clone(), gw.env.clone(), config, gw.handle.clone(), lock));
    Ok(Some(tokio::spawn(runner.run(shutdown))))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

pub fn serve(host: &str, port: u16, no_runner: bool) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    config.check_auth()?;
    let gw = gateway(config)?;
    runtime()?.block_on(async move {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let runner = if no_runner || !gw.config.runner_enabled { None } else { spawn_runner(&gw, shutdown_rx.clone())? };
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        let addr = listener.local_addr()?;
        let state = AppState {
            store: gw.store.clone(),
            catalog: gw.catalog.clone(),
            workflows: gw.workflows.clone(),
            plugins: Arc::new(Plugins(gw.plugins.clone())),
            runner: gw.handle.clone(),
            env: gw.env.clone(),
            auth: Arc::new(AuthConfig { tokens: if gw.config.security { gw.config.tokens.clone() } else { Vec::new() }, enabled: gw.config.security }),
            data_dir: gw.config.data_dir.clone(),
            config: ApiConfig { poll: gw.config.poll, ..ApiConfig::default() },
            shutdown: shutdown_rx,
        };
        println!("abstractgateway listening on http://{addr}");
        let server = tokio::spawn(agw_api::serve(listener, state));
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
        server.await.context("server task")??;
        if let Some(runner) = runner {
            runner.await.context("runner task")?;
        }
        Ok(())
    })
}

pub fn runner() -> anyhow::Result<()> {
    let gw = gateway(Config::from_env()?)?;
    runtime()?.block_on(async move {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let lock = RunnerLock::acquire(&gw.config.data_dir)?;
        drop(lock);
        let runner = spawn_runner(&gw, shutdown_rx)?.context("another runner took the lock")?;
        shutdown_signal().await;
        let _ = shutdown_tx.send(true);
        runner.await.context("runner task")?;
        Ok(())
    })
}

pub fn plugins_list(json: bool) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let host = wiring::plugin_host(&config)?;
    let plugins = host.plugins();
    let problems = host.problems();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "plugins": plugins, "problems": problems }))?);
        return Ok(());
    }
    println!("{:<20} {:<10} {:<12} {:<14} {:>5}  DIGEST", "NAME", "VERSION", "ORIGIN", "WORLDS", "NODES");
    for p in &plugins {
        let origin = serde_json::to_value(p.origin)?.as_str().unwrap_or_default().to_owned();
        println!("{:<20} {:<10} {:<12} {:<14} {:>5}  sha256:{}", p.name, p.version, origin, p.worlds.join(","), p.nodes.len(), &p.sha256[..16]);
    }
    for problem in &problems {
        println!("NOT LOADED {}: {}", problem.label, problem.reason);
    }
    Ok(())
}

pub fn plugins_inspect(file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let label = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let summary = PluginHost::inspect(&label, &bytes)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

pub fn pack(source: &Path, out: &Path) -> anyhow::Result<()> {
    let mut files = BTreeMap::new();
    collect(source, source, &mut files)?;
    let bundle = Bundle::from_files(files.clone()).with_context(|| format!("{} is not a valid bundle", source.display()))?;
    let bytes = pack_zip(&files)?;
    std::fs::create_dir_all(out)?;
    let target = out.join(format!("{}.flow", bundle.bundle_ref()));
    std::fs::write(&target, bytes).with_context(|| format!("cannot write {}", target.display()))?;
    println!("{}", target.display());
    Ok(())
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
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
