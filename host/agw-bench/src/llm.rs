//! The `llm` suite (`--suite llm`): what the gateway adds around an `llm_call` step, against
//! the fake OpenAI-compatible provider (`agw-fake-provider`) on loopback, reached through the
//! first-party `openai-compatible` plugin as `lmstudio` (file store).
//!
//! - `run_wall`: wall time of a `start -> llm_call (fake-chat, prompt "hi") -> end` run, from
//!   sending `POST /runs/start` to the SSE `done` frame of its ledger stream, with and without
//!   fsync;
//! - `fake_alone`: the same chat request body the gateway sent (taken from the fake's log),
//!   POSTed straight to the fake with the same client;
//! - `overhead = run_wall sample - fake_alone median`, per run, then summarised;
//! - `delta_gaps`: runs of `fake-slow-50` (the fake sleeps 50 ms after each stream chunk)
//!   started with `_runtime.stream: true`; the gap between consecutive `event: llm.delta`
//!   frames on the run's ledger stream, next to the gap between consecutive chunks read
//!   straight from the fake. The fake does not report send times, so the figure is jitter
//!   (gap - 50 ms), not chunk-to-frame latency.
//!
//! `host/agw-bench/reference_llm.py` times the same bundle on the Python reference.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use abstractgateway::config::Config;
use abstractgateway::{Gateway, launch};
use agw_fake_provider::FakeProvider;
use anyhow::Context;
use serde_json::{Value, json};

use crate::{start_run, stats};

pub(crate) const BUNDLE: &str = "bench-llm";
/// Long enough that a streamed answer has a few dozen deltas.
const LONG_PROMPT: &str = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
fifteen sixteen seventeen eighteen nineteen twenty";
const SLOW_MS: u64 = 50;

fn node(id: &str, kind: &str, inputs: &[&str], outputs: &[&str], extra: Value) -> Value {
    let pin = |id: &&str| {
        if id.starts_with("exec-") {
            json!({"id": id, "label": "", "type": "execution"})
        } else {
            json!({"id": id, "label": id, "type": "string"})
        }
    };
    let pins = |ids: &[&str]| ids.iter().map(pin).collect::<Vec<Value>>();
    let mut data = json!({"nodeType": kind, "label": kind, "inputs": pins(inputs), "outputs": pins(outputs)});
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    json!({"id": id, "type": kind, "position": {"x": 0, "y": 0}, "data": data})
}

fn flow(id: &str, model: &str, prompt: &str) -> Value {
    let edge = |n: usize, s: &str, sp: &str, t: &str, tp: &str| json!({"id": format!("e{n}"), "source": s, "sourceHandle": sp, "target": t, "targetHandle": tp});
    json!({
        "id": id, "name": id,
        "nodes": [
            node("start", "on_flow_start", &[], &["exec-out"], json!({})),
            node("llm", "llm_call", &["exec-in", "prompt"], &["exec-out", "response"],
                 json!({"pinDefaults": {"prompt": prompt}, "effectConfig": {"provider": "lmstudio", "model": model}})),
            node("end", "on_flow_end", &["exec-in", "response"], &[], json!({})),
        ],
        "edges": [
            edge(0, "start", "exec-out", "llm", "exec-in"),
            edge(1, "llm", "exec-out", "end", "exec-in"),
            edge(2, "llm", "response", "end", "response"),
        ],
        "entryNode": "start",
    })
}

/// LLM calls in the `chain` flow: the per-step overhead is the difference between a run of
/// `chain` and a run of `chat`, divided by `CHAIN - 1`, less the fake's own time.
const CHAIN: usize = 11;

/// `chain`: `CHAIN` llm_calls one after the other, the last one's answer as the output.
fn chain_flow() -> Value {
    let llm = |i: usize| {
        node(
            &format!("llm{i}"),
            "llm_call",
            &["exec-in", "prompt"],
            &["exec-out", "response"],
            json!({"pinDefaults": {"prompt": "hi"}, "effectConfig": {"provider": "lmstudio", "model": "fake-chat"}}),
        )
    };
    let edge = |n: usize, s: &str, sp: &str, t: &str, tp: &str| json!({"id": format!("e{n}"), "source": s, "sourceHandle": sp, "target": t, "targetHandle": tp});
    let mut nodes = vec![node("start", "on_flow_start", &[], &["exec-out"], json!({}))];
    nodes.extend((0..CHAIN).map(llm));
    nodes.push(node("end", "on_flow_end", &["exec-in", "response"], &[], json!({})));
    let mut names: Vec<String> = vec!["start".into()];
    names.extend((0..CHAIN).map(|i| format!("llm{i}")));
    names.push("end".into());
    let mut edges: Vec<Value> =
        names.windows(2).enumerate().map(|(n, w)| edge(n, &w[0], "exec-out", &w[1], "exec-in")).collect();
    edges.push(edge(CHAIN + 1, &format!("llm{}", CHAIN - 1), "response", "end", "response"));
    json!({"id": "chain", "name": "chain", "nodes": nodes, "edges": edges, "entryNode": "start"})
}

/// Writes `bench-llm@0.1.0.flow` (flows `chat`, the default, `chain` and `slow`) into `flows_dir`.
pub(crate) fn write_bundle(flows_dir: &Path) -> anyhow::Result<()> {
    let manifest = json!({
        "bundle_format_version": "1", "bundle_id": BUNDLE, "bundle_version": "0.1.0",
        "entrypoints": [{"flow_id": "chat", "name": "chat"}, {"flow_id": "chain", "name": "chain"}, {"flow_id": "slow", "name": "slow"}],
        "default_entrypoint": "chat",
        "flows": {"chat": "flows/chat.json", "chain": "flows/chain.json", "slow": "flows/slow.json"},
    });
    let files = BTreeMap::from([
        ("manifest.json".to_owned(), manifest.to_string().into_bytes()),
        ("flows/chat.json".to_owned(), flow("chat", "fake-chat", "hi").to_string().into_bytes()),
        ("flows/chain.json".to_owned(), chain_flow().to_string().into_bytes()),
        (
            "flows/slow.json".to_owned(),
            flow("slow", &format!("fake-slow-{SLOW_MS}"), LONG_PROMPT).to_string().into_bytes(),
        ),
    ]);
    std::fs::create_dir_all(flows_dir)?;
    std::fs::write(flows_dir.join(format!("{BUNDLE}@0.1.0.flow")), agw_domain::bundle::pack_zip(&files)?)?;
    Ok(())
}

async fn gateway(
    temp: &tempfile::TempDir,
    fake: &FakeProvider,
    fsync: bool,
) -> anyhow::Result<abstractgateway::Launched> {
    let flows = temp.path().join("flows");
    write_bundle(&flows)?;
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::write(
        plugins.join("plugins.toml"),
        format!("[plugins.openai-compatible]\nconfig = {{ LMSTUDIO_BASE_URL = \"{}\" }}\n", fake.base_url()),
    )?;
    let mut config = Config::new(temp.path().join("data"));
    config.server.flows_dir = Some(flows);
    config.plugins.dir = plugins;
    config.security.tokens = vec!["bench".into()];
    config.store.fsync = fsync;
    launch(&Gateway::open(config)?, tokio::net::TcpListener::bind("127.0.0.1:0").await?, true).await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Summary of millisecond samples (may be negative).
fn stats_ms(mut samples: Vec<f64>) -> Value {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| (samples[((samples.len() - 1) as f64 * q).round() as usize] * 1e3).round() / 1e3;
    json!({"n": samples.len(), "median_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99),
           "min_ms": at(0.0), "max_ms": at(1.0)})
}

async fn one_run(client: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let run_id = start_run(client, base, body).await?;
    let stream = client.get(format!("{base}/runs/{run_id}/ledger/stream")).bearer_auth("bench").send().await?;
    let text = stream.text().await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(text.contains("event: done"), "stream ended without done: {text}");
    let view = crate::view(client, base, &run_id).await?;
    anyhow::ensure!(view["status"] == "completed", "run ended {view}");
    anyhow::ensure!(
        view["output"].to_string().contains("Fake answer to"),
        "the run's output is not the fake's answer: {view}"
    );
    Ok(elapsed)
}

async fn run_wall_and_overhead(runs: usize, fsync: bool) -> anyhow::Result<Value> {
    let fake = FakeProvider::start().await?;
    let temp = tempfile::tempdir()?;
    let launched = gateway(&temp, &fake, fsync).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();
    let body = json!({"bundle_id": BUNDLE});
    let mut walls = Vec::with_capacity(runs);
    for i in 0..runs + 10 {
        let elapsed = one_run(&client, &base, &body).await?;
        if i >= 10 {
            walls.push(elapsed); // the first ten warm up connections, caches and the plugin
        }
    }
    let chain = json!({"bundle_id": BUNDLE, "flow_id": "chain"});
    let mut chains = Vec::with_capacity(runs);
    for i in 0..runs / 2 + 5 {
        let elapsed = one_run(&client, &base, &chain).await?;
        if i >= 5 {
            chains.push(elapsed);
        }
    }
    // The chat request the gateway sent, replayed straight to the fake with the same client.
    let requests = fake.requests();
    let chat = requests.iter().rev().find(|r| r.path == "/v1/chat/completions").context("no chat request")?;
    let url = format!("{}/chat/completions", fake.base_url());
    let mut alone = Vec::with_capacity(runs);
    for i in 0..runs + 10 {
        let started = Instant::now();
        let answer: Value = client.post(&url).json(&chat.body).send().await?.error_for_status()?.json().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(answer["choices"][0]["message"]["content"].is_string(), "fake answered {answer}");
        if i >= 10 {
            alone.push(elapsed);
        }
    }
    launched.stop().await?;
    fake.stop();
    let mut sorted = alone.clone();
    sorted.sort();
    let alone_median = ms(sorted[(sorted.len() - 1) / 2]);
    let overhead = walls.iter().map(|w| ms(*w) - alone_median).collect();
    // Per step: each chain run against the median single-call run, per extra call, less the
    // fake's time for it.
    let mut single = walls.clone();
    single.sort();
    let single_median = ms(single[(single.len() - 1) / 2]);
    let per_step = chains.iter().map(|c| (ms(*c) - single_median) / (CHAIN - 1) as f64 - alone_median).collect();
    Ok(json!({
        "chat_requests_seen_by_fake": requests.iter().filter(|r| r.path == "/v1/chat/completions").count(),
        "run_wall": stats(walls),
        "chain_run_wall": stats(chains),
        "fake_alone": stats(alone),
        "overhead_per_run": stats_ms(overhead),
        "overhead_per_llm_call_step": stats_ms(per_step),
    }))
}

/// Reads an SSE response, calling `on_frame(arrival, frame)` for each frame.
async fn read_frames(mut response: reqwest::Response, mut on_frame: impl FnMut(Instant, &str)) -> anyhow::Result<()> {
    let mut buffer = String::new();
    while let Some(chunk) = response.chunk().await? {
        let now = Instant::now();
        buffer.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            on_frame(now, &frame);
        }
    }
    Ok(())
}

fn gaps(arrivals: &[Instant], into: &mut Vec<f64>) {
    into.extend(arrivals.windows(2).map(|w| ms(w[1] - w[0]) - SLOW_MS as f64));
}

async fn delta_gaps(runs: usize) -> anyhow::Result<Value> {
    let fake = FakeProvider::start().await?;
    let temp = tempfile::tempdir()?;
    let launched = gateway(&temp, &fake, false).await?;
    let base = format!("http://{}/api/gateway", launched.addr);
    let client = reqwest::Client::new();
    let body = json!({"bundle_id": BUNDLE, "flow_id": "slow", "input_data": {"_runtime": {"stream": true}}});
    let mut via_gateway = Vec::new();
    let mut deltas_seen = Vec::new();
    let mut latency = Vec::new();
    for _ in 0..runs {
        fake.take_chunk_times();
        let run_id = start_run(&client, &base, &body).await?;
        let stream = client.get(format!("{base}/runs/{run_id}/ledger/stream")).bearer_auth("bench").send().await?;
        let mut arrivals = Vec::new();
        let mut done = false;
        read_frames(stream, |at, frame| {
            // A reader who joins mid-call gets the text so far in one snapshot frame first.
            if frame.starts_with("event: llm.delta\n") && !frame.contains("\"snapshot\": true") {
                arrivals.push(at);
            }
            done |= frame.starts_with("event: done");
        })
        .await?;
        anyhow::ensure!(done, "run {run_id}: stream ended without done");
        deltas_seen.push(arrivals.len());
        gaps(&arrivals, &mut via_gateway);
        // Chunk i (counted from the end, past any snapshot) became frame i.
        let sent = fake.take_chunk_times();
        latency.extend(sent.iter().rev().zip(arrivals.iter().rev()).map(|(s, a)| ms(a.saturating_duration_since(*s))));
    }
    // The same streamed request straight to the fake: the fake's own spacing.
    let requests = fake.requests();
    let chat = requests.iter().rev().find(|r| r.path == "/v1/chat/completions").context("no chat request")?;
    anyhow::ensure!(chat.body["stream"] == true, "the gateway did not stream: {}", chat.body);
    let url = format!("{}/chat/completions", fake.base_url());
    let mut direct = Vec::new();
    for _ in 0..runs {
        let response = client.post(&url).json(&chat.body).send().await?.error_for_status()?;
        let mut arrivals = Vec::new();
        read_frames(response, |at, frame| {
            if frame.contains("\"content\":\"") && !frame.contains("\"role\"") {
                arrivals.push(at);
            }
        })
        .await?;
        gaps(&arrivals, &mut direct);
    }
    launched.stop().await?;
    fake.stop();
    Ok(json!({
        "model": format!("fake-slow-{SLOW_MS}"), "runs": runs,
        "llm_delta_frames_per_run": {"min": deltas_seen.iter().min(), "max": deltas_seen.iter().max()},
        "chunk_to_sse_frame": stats_ms(latency),
        "gateway_delta_gap_minus_50ms": stats_ms(via_gateway),
        "fake_direct_chunk_gap_minus_50ms": stats_ms(direct),
    }))
}

pub(crate) async fn suite(runs: usize) -> anyhow::Result<Value> {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    Ok(json!({
        "benchmark": "llm",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "machine": {"cpus": cpus},
        "store": "file",
        "overhead_definition": "overhead_per_run: run_wall (POST /runs/start to SSE done, one llm_call) minus the median of fake_alone (the same chat body POSTed straight to the fake, same client); overhead_per_llm_call_step: (a chain run of 11 sequential llm_calls minus the median one-call run) / 10, minus the fake_alone median",
        "llm_call_no_fsync": run_wall_and_overhead(runs, false).await?,
        "llm_call_fsync": run_wall_and_overhead(runs, true).await?,
        "stream_delta_gaps": delta_gaps(20).await?,
        "delta_note": "chunk_to_sse_frame: from the fake handing a text chunk to its connection (FakeProvider::take_chunk_times, same process) to the client reading the llm.delta frame on the run's SSE stream (provider plugin parse, llm-stream emit, hub, SSE write, loopback). Gaps: arrival gap minus the fake's 50 ms spacing, via the gateway and straight from the fake",
    }))
}
