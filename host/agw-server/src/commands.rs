//! What each subcommand does.

use std::path::Path;

use abstractgateway::config::Config;
use abstractgateway::{Gateway, launch, wiring};
use agw_plugins::PluginHost;
use anyhow::Context;
use tokio::sync::watch;

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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

pub fn serve(host: &str, port: u16, no_runner: bool) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    config.check_auth()?;
    let gateway = Gateway::open(config)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        let launched = launch(&gateway, listener, !no_runner).await?;
        println!("abstractgateway listening on http://{}", launched.addr);
        shutdown_signal().await;
        tracing::info!("shutting down");
        launched.stop().await
    })
}

pub fn runner() -> anyhow::Result<()> {
    let gateway = Gateway::open(Config::from_env()?)?;
    runtime()?.block_on(async move {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let runner = gateway.spawn_runner(shutdown_rx)?.context("another runner holds this data dir's lock")?;
        shutdown_signal().await;
        let _ = shutdown.send(true);
        runner.await.context("runner task")
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
        let origin = serde_json::to_value(p.origin)?;
        let origin = origin.as_str().unwrap_or_default();
        let digest = p.sha256.get(..16).unwrap_or(&p.sha256);
        println!(
            "{:<20} {:<10} {:<12} {:<14} {:>5}  sha256:{digest}",
            p.name,
            p.version,
            origin,
            p.worlds.join(","),
            p.nodes.len()
        );
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
    let (bundle, bytes) = abstractgateway::pack_dir(source)?;
    std::fs::create_dir_all(out)?;
    let target = out.join(format!("{}.flow", bundle.bundle_ref()));
    std::fs::write(&target, bytes).with_context(|| format!("cannot write {}", target.display()))?;
    println!("{}", target.display());
    Ok(())
}

pub fn migrate(data_dir: &Path, db_path: &Path, overwrite: bool) -> anyhow::Result<()> {
    use agw_store::migrate::{CHUNK_RUNS, Progress, file_to_sqlite};
    let mut report_progress = |p: &Progress| {
        // Only a data dir big enough to take a while says how far it is.
        if p.runs_total > CHUNK_RUNS as u64 {
            eprintln!("migrated {}/{} runs ({} ledger records)", p.runs_done, p.runs_total, p.ledger_records);
        }
    };
    let report = file_to_sqlite(data_dir, db_path, overwrite, &mut report_progress)?;
    println!("Migrated file store {} to sqlite DB {}", data_dir.display(), report.db_path.display());
    println!(
        "runs {}, ledger records {}, commands {}, command cursor {}",
        report.runs, report.ledger_records, report.commands, report.cursor
    );
    Ok(())
}
