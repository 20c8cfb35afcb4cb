//! The `fairness` suite: how quick runs fare next to slow plugin work, on the real gateway.
//!
//! - `quick_next_to_slow_loops`: as many slow runs as tick workers (4), each a chain of 20
//!   `test_sleep` steps of 250 ms (a blocking WASI clock wait in the `test-hostile` plugin),
//!   are started and each has finished a step; then 40 `pure-math` runs are started one after
//!   the other.
//!   Reports each quick run's time from its start request to `completed` (polled), and the
//!   slow runs' wall time.
//! - `blocked_call_under_deadline`: one step that sleeps 30 s under the default 2 s deadline;
//!   the wall time until its run has failed.

use std::time::Instant;

use abstractgateway::config::Config;
use abstractgateway::{Gateway, launch};
use anyhow::Context;
use serde_json::{Value, json};

use crate::{repo, start_run, stats, wait_status};

/// `start → test_sleep × steps → end`.
fn sleep_chain(steps: usize, ms: u64) -> Value {
    let exec = |id: &str| json!({"id": id, "type": "execution"});
    let mut nodes = vec![json!({"id": "start", "type": "on_flow_start", "data": {"outputs": [exec("exec-out")]}})];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for i in 0..steps {
        let id = format!("sleep{i}");
        nodes.push(json!({"id": id, "type": "test_sleep", "data": {
            "inputs": [exec("exec-in"), {"id": "ms", "type": "number"}],
            "outputs": [exec("exec-out"), {"id": "result", "type": "number"}], "pinDefaults": {"ms": ms}}}));
        edges.push(json!({"source": previous, "sourceHandle": "exec-out", "target": id, "targetHandle": "exec-in"}));
        previous = id;
    }
    nodes.push(json!({"id": "end", "type": "on_flow_end", "data": {"inputs": [exec("exec-in")]}}));
    edges.push(json!({"source": previous, "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"}));
    json!({"id": "chain", "nodes": nodes, "edges": edges})
}

async fn gateway(temp: &tempfile::TempDir) -> anyhow::Result<abstractgateway::Launched> {
    let flows = temp.path().join("flows");
    let bundle = flows.join("sleepy/flows");
    std::fs::create_dir_all(&bundle)?;
    std::fs::copy(repo().join("tests/data/reference-flows/pure-math@0.1.0.flow"), flows.join("pure-math@0.1.0.flow"))
        .context("copy pure-math")?;
    for (id, steps, ms) in [("slow", 20, 250), ("blocked", 1, 30_000)] {
        std::fs::write(bundle.join(format!("{id}.json")), sleep_chain(steps, ms).to_string())?;
    }
    let manifest = json!({"bundle_format_version": "1", "bundle_id": "sleepy", "bundle_version": "1.0.0",
        "entrypoints": [{"flow_id": "slow"}, {"flow_id": "blocked"}],
        "flows": {"slow": "flows/slow.json", "blocked": "flows/blocked.json"}});
    std::fs::write(flows.join("sleepy/manifest.json"), manifest.to_string())?;
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(agw_firstparty::component_path("test-hostile"), plugins.join("test-hostile.wasm"))
        .context("copy test-hostile")?;
    let mut config = Config::new(temp.path().join("data"));
    config.server.flows_dir = Some(flows);
    config.plugins.dir = plugins;
    config.security.tokens = vec!["bench".into()];
    let gateway = Gateway::open(config)?;
    launch(&gateway, tokio::net::TcpListener::bind("127.0.0.1:0").await?, true).await
}

pub(crate) async fn suite() -> anyhow::Result<Value> {
    let temp = tempfile::tempdir()?;
    let launched = gateway(&temp).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();

    let slow_started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(start_run(&client, &base, &json!({"bundle_id": "sleepy", "flow_id": "slow"})).await?);
    }
    // Steady state: every slow run has finished a step (its first tick), so the runner has
    // seen how slow they are.
    for run_id in &slow {
        loop {
            let view = crate::view(&client, &base, run_id).await?;
            if view["current_node"].as_str().is_some_and(|node| node.starts_with("sleep") && node != "sleep0") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    let mut quick = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        let run_id = start_run(&client, &base, &json!({"bundle_id": "pure-math"})).await?;
        quick.push((run_id, started));
    }
    let mut latencies = Vec::new();
    for (run_id, started) in &quick {
        wait_status(&client, &base, run_id, "completed").await?;
        latencies.push(started.elapsed());
    }
    let mut slow_walls = Vec::new();
    for run_id in &slow {
        wait_status(&client, &base, run_id, "completed").await?;
        slow_walls.push(slow_started.elapsed());
    }

    let started = Instant::now();
    let blocked = start_run(&client, &base, &json!({"bundle_id": "sleepy", "flow_id": "blocked"})).await?;
    let failed = wait_status(&client, &base, &blocked, "failed").await?;
    let blocked_wall = started.elapsed();
    anyhow::ensure!(
        failed["error"].as_str().is_some_and(|e| e.contains("while blocked in a host call")),
        "the blocked step failed for another reason: {failed}"
    );
    launched.stop().await?;
    Ok(json!({
        "benchmark": "fairness",
        "quick_next_to_slow_loops": {
            "slow_runs": 4, "slow_steps": 20, "slow_step_ms": 250, "tick_workers": 4,
            "quick_start_to_completed": stats(latencies),
            "slow_wall": stats(slow_walls),
        },
        "blocked_call_under_deadline": {
            "sleep_ms": 30_000, "deadline_ms": 2_000,
            "wall_ms": (blocked_wall.as_secs_f64() * 1e6).round() / 1e3,
        },
        "note": "quick runs are polled every 2 ms, so each latency includes up to one poll",
    }))
}
