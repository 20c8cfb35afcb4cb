//! `agw-bench`: measures the gateway and writes a JSON report.
//!
//! ```text
//! cargo run --release -p agw-bench -- --runs 200 --out docs/benchmarks/skeleton.json
//! cargo run --release -p agw-bench -- --suite durable --runs 200 --out docs/benchmarks/durable.json
//! cargo run --release -p agw-bench -- --suite plugins --out docs/benchmarks/plugins.json
//! cargo run --release -p agw-bench -- --suite fairness --out docs/benchmarks/fairness.json
//! cargo run --release -p agw-bench -- --suite llm --runs 200 --out docs/benchmarks/llm.json
//! ```
//!
//! The `skeleton` suite:
//!
//! - `start_to_completed`: wall time from sending `POST /runs/start` to receiving the SSE
//!   `done` frame of that run (sent once the run is completed and its ledger final), for
//!   `pure-math`, over HTTP on loopback against the in-process gateway, with the default
//!   durability (every write fsynced) and with `ABSTRACTGATEWAY_FSYNC=0`;
//! - `node_call`: a fresh tick session instantiating std-nodes and calling `add` once;
//! - `plugin_load`: loading the first-party plugins with an empty cache (compiles) and with a
//!   warm cache.
//!
//! The `store` suite (`--suite store`), for each store backend:
//!
//! - `append`: ledger append throughput through `RunStore`, one record per append (as a
//!   tick with one effect writes) and in batches of ten, with and without fsync;
//! - `replay_store`: reading a 1,000-record ledger through `RunStore::read_ledger`;
//! - `replay_http`: `GET /runs/{id}/ledger?after=0&limit=1000` of a 1,000-record `loop-emit`
//!   run (the reference's file2/26 run), over loopback HTTP. `host/agw-bench/reference_replay.py`
//!   times the same request against a running Python gateway;
//! - `runs_query`: 10,000 finished runs in the store (one in five a child run, three
//!   statuses), then `RunStore::query_runs` for the newest 50 and for the newest 50 of one
//!   status, next to the path `GET /runs` took before it (`list_runs`, filter, page), and
//!   `GET /runs?limit=50` over loopback HTTP. `first` is the first call on a fresh handle.
//!
//! The `durable` suite:
//!
//! - `event_round_trip`: a `wait-event` run waits; the time from sending the `emit_event`
//!   command to receiving the SSE `done` frame of the woken run (the inbox append, the runner
//!   applying the event, the resume tick and the final records);
//! - `tick_cost`: a `loop-n` run of 500 iterations with one execution step per tick, so every
//!   step is a checkpoint: wall time per tick, with and without fsync.
//!
//! The `plugins` suite (`--suite plugins`, see [`plugins`]): instantiation and call cost,
//! compile vs cached load per component, memory per idle loaded plugin, hot-swap reload time.
//!
//! The `fairness` suite (`--suite fairness`, see [`fairness`]): quick runs next to slow plugin
//! loops, and a plugin call blocked past its deadline.
//!
//! The `llm` suite (`--suite llm`, see [`llm`]): gateway overhead per `llm_call` step against
//! the fake provider, and the spacing of streamed `llm.delta` frames.

mod fairness;
mod llm;
mod plugins;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use abstractgateway::config::Config;
use abstractgateway::{Gateway, launch};
use agw_domain::{NodeCall, NodeExecutor};
use agw_plugins::{HostConfig, PluginHost, PluginSource};
use agw_store::RunStore;
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
    /// `skeleton`, `durable`, `store`, `plugins` or `fairness`.
    #[arg(long, default_value = "skeleton")]
    suite: String,
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

/// A gateway on a temp data dir serving the reference's sample bundles.
async fn bench_gateway(
    temp: &tempfile::TempDir,
    fsync: bool,
    tick_max_steps: u32,
) -> anyhow::Result<abstractgateway::Launched> {
    bench_gateway_on(temp, "file", fsync, tick_max_steps).await
}

async fn bench_gateway_on(
    temp: &tempfile::TempDir,
    backend: &str,
    fsync: bool,
    tick_max_steps: u32,
) -> anyhow::Result<abstractgateway::Launched> {
    let flows = temp.path().join("flows");
    std::fs::create_dir_all(&flows)?;
    for entry in std::fs::read_dir(repo().join("tests/data/reference-flows"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), flows.join(entry.file_name())).context("copy sample bundle")?;
    }
    let mut config = Config::new(temp.path().join("data"));
    config.server.flows_dir = Some(flows);
    config.security.tokens = vec!["bench".into()];
    config.store.fsync = fsync;
    config.runner.tuning.tick_max_steps = tick_max_steps;
    set_backend(&mut config, backend)?;
    let gateway = Gateway::open(config)?;
    launch(&gateway, tokio::net::TcpListener::bind("127.0.0.1:0").await?, true).await
}

async fn start_run(client: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<String> {
    let answer: Value =
        client.post(format!("{base}/runs/start")).bearer_auth("bench").json(body).send().await?.json().await?;
    Ok(answer["run_id"].as_str().context("run_id")?.to_owned())
}

async fn view(client: &reqwest::Client, base: &str, run_id: &str) -> anyhow::Result<Value> {
    Ok(client.get(format!("{base}/runs/{run_id}")).bearer_auth("bench").send().await?.json().await?)
}

async fn wait_status(client: &reqwest::Client, base: &str, run_id: &str, status: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = view(client, base, run_id).await?;
        if view["status"] == status {
            return Ok(view);
        }
        anyhow::ensure!(Instant::now() < deadline, "run {run_id} never got to {status}: {view}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn event_round_trip(runs: usize, fsync: bool) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let launched = bench_gateway(&temp, fsync, 100).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 10 {
        let session = format!("bench-{i}");
        let key = format!("evt:session:{session}:go");
        let body = json!({"bundle_id": "wait-event", "session_id": session, "input_data": {"event_key": key}});
        let run_id = start_run(&client, &base, &body).await?;
        wait_status(&client, &base, &run_id, "waiting").await?;
        let stream =
            client.get(format!("{base}/runs/{run_id}/ledger/stream?after=2")).bearer_auth("bench").send().await?;
        let started = Instant::now();
        let command = json!({"command_id": format!("go-{i}"), "run_id": session, "type": "emit_event",
                             "payload": {"name": "go", "payload": {"i": i}}});
        client.post(format!("{base}/commands")).bearer_auth("bench").json(&command).send().await?.error_for_status()?;
        let text = stream.text().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(text.contains("event: done"), "stream ended without done: {text}");
        anyhow::ensure!(view(&client, &base, &run_id).await?["status"] == "completed", "run {run_id} not completed");
        if i >= 10 {
            samples.push(elapsed);
        }
    }
    launched.stop().await?;
    Ok(stats(samples))
}

async fn tick_cost(fsync: bool) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let launched = bench_gateway(&temp, fsync, 1).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let run_id = start_run(&client, &base, &json!({"bundle_id": "loop-n", "input_data": {"n": 500}})).await?;
    let done = wait_status(&client, &base, &run_id, "completed").await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(done["output"]["counter"] == json!(499.0), "loop-n answered {done}");
    let state: Value = serde_json::from_slice(&std::fs::read(temp.path().join(format!("data/run_{run_id}.json")))?)?;
    let ticks = state["exec"]["steps"].as_u64().context("steps")?;
    launched.stop().await?;
    Ok(json!({"ticks": ticks, "total_ms": elapsed.as_secs_f64() * 1e3,
              "per_tick_ms": elapsed.as_secs_f64() * 1e3 / ticks.max(1) as f64}))
}

const BACKENDS: &[&str] = &["file", "sqlite"];

fn set_backend(config: &mut Config, backend: &str) -> anyhow::Result<()> {
    config.store.backend = backend.parse().map_err(|e| anyhow::anyhow!("store backend '{backend}': {e}"))?;
    Ok(())
}

fn open_store(backend: &str, dir: &std::path::Path, fsync: bool) -> anyhow::Result<std::sync::Arc<dyn RunStore>> {
    Ok(match backend {
        "file" => std::sync::Arc::new(agw_store::FileStore::open_with_sync(dir, fsync)?),
        "sqlite" => std::sync::Arc::new(agw_store::SqliteStore::open_with_sync(dir.join("gateway.sqlite3"), fsync)?),
        other => anyhow::bail!("unknown store backend '{other}'"),
    })
}

fn append_throughput(backend: &str, fsync: bool) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let store = open_store(backend, temp.path(), fsync)?;
    let records = agw_store::conformance::sample_records("bench", 1000);
    store.create_run(&agw_store::conformance::sample_run("bench", "2026-11-21T00:00:00+00:00"))?;
    let started = Instant::now();
    for record in &records {
        store.append_ledger("bench", std::slice::from_ref(record))?;
    }
    let single = started.elapsed();
    store.create_run(&agw_store::conformance::sample_run("batched", "2026-11-21T00:00:00+00:00"))?;
    let records = agw_store::conformance::sample_records("batched", 1000);
    let started = Instant::now();
    for batch in records.chunks(10) {
        store.append_ledger("batched", batch)?;
    }
    let batched = started.elapsed();
    let per_s = |d: Duration| (1000.0 / d.as_secs_f64()).round();
    Ok(json!({"records_per_s_one_per_append": per_s(single), "records_per_s_ten_per_append": per_s(batched)}))
}

fn replay_store(backend: &str) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let store = open_store(backend, temp.path(), false)?;
    store.create_run(&agw_store::conformance::sample_run("bench", "2026-11-21T00:00:00+00:00"))?;
    store.append_ledger("bench", &agw_store::conformance::sample_records("bench", 1000))?;
    let mut samples = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let records = store.read_ledger("bench", 0, 1000)?;
        samples.push(started.elapsed());
        anyhow::ensure!(records.len() == 1000, "read {} records", records.len());
    }
    Ok(stats(samples))
}

async fn replay_http(backend: &str) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let launched = bench_gateway_on(&temp, backend, false, 100).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();
    let run_id = start_run(&client, &base, &json!({"bundle_id": "loop-emit", "input_data": {"n": 499}})).await?;
    wait_status(&client, &base, &run_id, "completed").await?;
    let url = format!("{base}/runs/{run_id}/ledger?after=0&limit=1000");
    let mut samples = Vec::new();
    for i in 0..110 {
        let started = Instant::now();
        let page: Value = client.get(&url).bearer_auth("bench").send().await?.json().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(page["items"].as_array().map(Vec::len) == Some(1000), "the ledger has 1000 records");
        if i >= 10 {
            samples.push(elapsed);
        }
    }
    launched.stop().await?;
    Ok(stats(samples))
}

/// Runs in the `runs_query` store.
const QUERY_RUNS: usize = 10_000;

/// Fills `store` with [`QUERY_RUNS`] finished runs: every fifth a child of the run before it,
/// statuses completed, failed and cancelled in turn.
fn fill_runs(store: &dyn RunStore) -> anyhow::Result<()> {
    use agw_domain::run::RunStatus;
    let statuses = [RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled];
    for i in 0..QUERY_RUNS {
        let at = second_after_start(i);
        let mut run = agw_store::conformance::sample_run(&format!("run-{i:05}"), &at);
        run.status = statuses[i % statuses.len()];
        if i % 5 == 4 {
            run.parent_run_id = Some(format!("run-{:05}", i - 1));
        }
        store.create_run(&run)?;
    }
    Ok(())
}

/// The `i`th second after 2026-11-21T00:00:00, as run timestamps are written.
fn second_after_start(i: usize) -> String {
    let (h, m, s) = (i / 3600, i / 60 % 60, i % 60);
    format!("2026-11-21T{h:02}:{m:02}:{s:02}.000000+00:00")
}

/// Times `f` 5 times to warm up then `n` times; returns the first call and the rest's stats.
fn time_calls(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Value> {
    let started = Instant::now();
    f()?;
    let first = started.elapsed();
    let mut samples = Vec::new();
    for i in 0..n + 5 {
        let started = Instant::now();
        f()?;
        if i >= 5 {
            samples.push(started.elapsed());
        }
    }
    Ok(json!({"first_ms": first.as_secs_f64() * 1000.0, "warm": stats(samples)}))
}

async fn runs_query(backend: &str) -> anyhow::Result<Value> {
    use agw_domain::run::RunStatus;
    use agw_store::RunQuery;
    let temp = tempfile::tempdir()?;
    let data = temp.path().join("data");
    let filled = Instant::now();
    fill_runs(open_store(backend, &data, false)?.as_ref())?;
    let fill_s = filled.elapsed().as_secs_f64();
    let newest = RunQuery { limit: 50, ..RunQuery::default() };
    let failed = RunQuery { status: Some(RunStatus::Failed), ..newest.clone() };
    let mut report = Map::new();
    report.insert("runs".into(), json!(QUERY_RUNS));
    report.insert("fill_s".into(), json!(fill_s));
    for (name, query) in [("newest_50", &newest), ("failed_50", &failed)] {
        // A fresh handle each: `first` includes what the backend does on its first look.
        let store = open_store(backend, &data, false)?;
        let query_runs = time_calls(50, || {
            let page = store.query_runs(query)?;
            anyhow::ensure!(page.runs.len() == 50 && page.has_more, "a full page");
            Ok(())
        })?;
        let store = open_store(backend, &data, false)?;
        let list_then_filter = time_calls(10, || {
            let (runs, has_more) = query.page(store.list_runs()?.into_iter().filter(|r| query.matches(r)));
            anyhow::ensure!(runs.len() == 50 && has_more, "a full page");
            Ok(())
        })?;
        report.insert(name.into(), json!({"query_runs": query_runs, "list_runs_then_filter": list_then_filter}));
    }
    let launched = {
        // The gateway opens the data dir the store was filled in.
        let flows = temp.path().join("flows");
        std::fs::create_dir_all(&flows)?;
        let mut config = Config::new(data.clone());
        config.server.flows_dir = Some(flows);
        config.security.tokens = vec!["bench".into()];
        config.store.fsync = false;
        set_backend(&mut config, backend)?;
        launch(&Gateway::open(config)?, tokio::net::TcpListener::bind("127.0.0.1:0").await?, true).await?
    };
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/gateway/runs?limit=50", launched.addr);
    let mut samples = Vec::new();
    let mut first = None;
    for i in 0..60 {
        let started = Instant::now();
        let page: Value = client.get(&url).bearer_auth("bench").send().await?.json().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(page["count"] == 50 && page["has_more"] == true, "a full page: {}", page["count"]);
        first.get_or_insert(elapsed);
        if i >= 10 {
            samples.push(elapsed);
        }
    }
    launched.stop().await?;
    let first_ms = first.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    report.insert("http_get_runs_limit_50".into(), json!({"first_ms": first_ms, "warm": stats(samples)}));
    Ok(Value::Object(report))
}

async fn store_suite() -> anyhow::Result<Value> {
    let mut report = Map::new();
    for backend in BACKENDS {
        report.insert(
            (*backend).to_owned(),
            json!({
                "append_fsync": append_throughput(backend, true)?,
                "append_no_fsync": append_throughput(backend, false)?,
                "replay_store_1000": replay_store(backend)?,
                "replay_http_1000": replay_http(backend).await?,
                "runs_query": runs_query(backend).await?,
            }),
        );
    }
    Ok(Value::Object(report))
}

async fn start_to_completed(runs: usize, fsync: bool) -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let launched = bench_gateway(&temp, fsync, 100).await?;
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
    if args.suite == "llm-bundle" {
        // For `reference_llm.py`: the `llm` suite's bundle, written into the `--out` directory.
        return llm::write_bundle(&args.out.context("--out DIR")?);
    }
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let report = match args.suite.as_str() {
        "skeleton" => json!({
            "benchmark": "walking-skeleton",
            "profile": profile,
            "machine": {"cpus": cpus},
            "start_to_completed_pure_math": {
                "fsync": start_to_completed(args.runs, true).await?,
                "no_fsync": start_to_completed(args.runs, false).await?,
            },
            "node_call_std_add": node_call(args.calls)?,
            "plugin_load_first_party": plugin_load()?,
        }),
        "durable" => json!({
            "benchmark": "durable-waits",
            "profile": profile,
            "machine": {"cpus": cpus},
            "event_round_trip_wait_event": {
                "fsync": event_round_trip(args.runs, true).await?,
                "no_fsync": event_round_trip(args.runs, false).await?,
            },
            "tick_cost_loop_n_one_step_per_tick": {
                "fsync": tick_cost(true).await?,
                "no_fsync": tick_cost(false).await?,
            },
        }),
        "store" => json!({
            "benchmark": "store",
            "profile": profile,
            "machine": {"cpus": cpus},
            "backends": store_suite().await?,
        }),
        "fairness" => fairness::suite().await?,
        "llm" => llm::suite(args.runs).await?,
        // Off the runtime's threads: plugin calls block the calling thread.
        "plugins" => tokio::task::spawn_blocking(plugins::suite).await??,
        // The child process `plugins` starts to measure memory on a clean heap.
        "plugins-memory" => tokio::task::spawn_blocking(plugins::memory_probe).await??,
        other => anyhow::bail!("unknown suite '{other}' (skeleton, durable, store, plugins, fairness or llm)"),
    };
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
