//! `agw-bench`: measures what the walking-skeleton issue asks for and writes a JSON report.
//!
//! ```text
//! cargo run --release -p agw-bench -- --runs 200 --out docs/benchmarks/skeleton.json
//! ```
//!
//! - `start_to_completed`: wall time from sending `POST /runs/start` to receiving the SSE
//!   `done` frame of that run (sent once the run is completed and its ledger final), for
//!   `pure-math`, over HTTP on loopback against the in-process gateway, with the default
//!   durability (every write fsynced) and with `ABSTRACTGATEWAY_FSYNC=0`;
//! - `node_call`: a fresh tick session instantiating std-nodes and calling `add` once;
//! - `plugin_load`: loading the first-party plugins with an empty cache (compiles) and with a
//!   warm cache.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use abstractgateway::config::Config;
use abstractgateway::{Gateway, launch};
use agw_domain::{NodeCall, NodeExecutor};
use agw_plugins::{HostConfig, PluginHost, PluginSource};
use anyhow::Context;
use clap::Parser;
use serde_json::{Map, Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// Runs of pure-math to time.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Node calls to time.
    #[arg(long, default_value_t = 1000)]
    calls: usize,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Summary statistics in milliseconds.
fn stats(mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    json!({"n": samples.len(), "median_ms": ms(at(0.5)), "p90_ms": ms(at(0.9)), "p99_ms": ms(at(0.99)),
           "min_ms": ms(samples[0]), "max_ms": ms(samples[samples.len() - 1])})
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn plugin_sources() -> Vec<PluginSource> {
    agw_firstparty::EMBEDDED.iter().map(|p| PluginSource::first_party(p.name, p.wasm)).collect()
}

fn plugin_load() -> anyhow::Result<Value> {
    let cache = tempfile::tempdir()?;
    let mut timings = Vec::new();
    for _ in 0..2 {
        let host = PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_owned()), ..HostConfig::default() })?;
        let started = Instant::now();
        let report = host.load(plugin_sources());
        timings.push((started.elapsed(), report.compiled, report.cache_hits));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(json!({
        "cold_ms": ms(timings[0].0), "cold_compiled": timings[0].1,
        "warm_ms": ms(timings[1].0), "warm_cache_hits": timings[1].2, "warm_compiled": timings[1].1,
    }))
}

fn node_call(calls: usize) -> anyhow::Result<Value> {
    let cache = tempfile::tempdir()?;
    let host = PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_owned()), ..HostConfig::default() })?;
    host.load(plugin_sources());
    let config = Map::new();
    let call = |session: &mut dyn NodeExecutor| {
        let inputs = Map::from_iter([("a".into(), json!(40)), ("b".into(), json!(2))]);
        let call = NodeCall {
            run_id: "bench",
            workflow_id: "bench",
            node_id: "add",
            node_type: "add",
            config: &config,
            inputs,
        };
        session.execute(call)
    };
    let mut fresh = Vec::with_capacity(calls);
    let mut warm = Vec::with_capacity(calls);
    let mut live = host.session();
    call(&mut live).map_err(|e| anyhow::anyhow!(e.message))?;
    for _ in 0..calls {
        let started = Instant::now();
        let mut session = host.session();
        let out = call(&mut session).map_err(|e| anyhow::anyhow!(e.message))?;
        drop(session);
        fresh.push(started.elapsed());
        anyhow::ensure!(out["result"] == json!(42.0), "add answered {out:?}");
        let started = Instant::now();
        call(&mut live).map_err(|e| anyhow::anyhow!(e.message))?;
        warm.push(started.elapsed());
    }
    Ok(
        json!({"instantiate_and_call": stats(fresh), "call_on_live_instance": stats(warm), "allocator": host.engine_info().allocator}),
    )
}

async fn start_to_completed(runs: usize, fsync: bool) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let flows = temp.path().join("flows");
    std::fs::create_dir_all(&flows)?;
    std::fs::copy(repo().join("tests/data/reference-flows/pure-math@0.1.0.flow"), flows.join("pure-math@0.1.0.flow"))
        .context("copy pure-math")?;
    let config =
        Config { flows_dir: Some(flows), tokens: vec!["bench".into()], fsync, ..Config::new(temp.path().join("data")) };
    let gateway = Gateway::open(config)?;
    let launched = launch(&gateway, tokio::net::TcpListener::bind("127.0.0.1:0").await?, true).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();
    let body = json!({"bundle_id": "pure-math", "input_data": {"a": 40, "b": 2, "name": "bench"}});
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 10 {
        let started = Instant::now();
        let answer: Value =
            client.post(format!("{base}/runs/start")).bearer_auth("bench").json(&body).send().await?.json().await?;
        let run_id = answer["run_id"].as_str().context("run_id")?.to_owned();
        // The SSE stream pushes `done` right after the final ledger record: no polling, so the
        // figure is not rounded up to a timer tick.
        let stream = client.get(format!("{base}/runs/{run_id}/ledger/stream")).bearer_auth("bench").send().await?;
        let body = stream.text().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(body.contains("event: done"), "stream ended without done: {body}");
        let view: Value = client.get(format!("{base}/runs/{run_id}")).bearer_auth("bench").send().await?.json().await?;
        anyhow::ensure!(view["status"] == "completed", "run ended {view}");
        if i >= 10 {
            samples.push(elapsed); // the first ten warm up connections and caches
        }
    }
    launched.stop().await?;
    Ok(stats(samples))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let report = json!({
        "benchmark": "walking-skeleton",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "start_to_completed_pure_math": {
            "fsync": start_to_completed(args.runs, true).await?,
            "no_fsync": start_to_completed(args.runs, false).await?,
        },
        "node_call_std_add": node_call(args.calls)?,
        "plugin_load_first_party": plugin_load()?,
    });
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(out) = args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&out, text + "\n")?;
    }
    Ok(())
}
