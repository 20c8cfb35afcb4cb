//! The `plugins` suite: what the plugin host costs, through `agw-plugins`' public API only.
//!
//! ```text
//! cargo run --release -p agw-bench -- --suite plugins --out docs/benchmarks/plugins.json
//! ```
//!
//! - `instantiate_and_call`: a fresh tick session per iteration (fresh `Store`, instance from
//!   the prepared component, one call, drop), against a warm session calling again; and
//!   test-sandbox's `test_config` with and without a granted workspace (the preopen's cost).
//! - `load_per_component`: each component loaded into a host with an empty cache dir (compiles)
//!   and into a second host on the same dir (deserializes the cached artifact).
//! - `memory_idle`: resident memory per loaded, idle plugin, measured in a child process (this
//!   binary with `--suite plugins-memory`) so the heap left over by the other figures does not
//!   hide or inflate it.
//! - `hot_swap`: `load_dir` on a plugins directory after its component was replaced, with the
//!   compiled artifact cached or not, and with nothing changed.
//!
//! Distinct versions of one component are made by appending a custom section, which changes
//! the bytes (and so the sha256 the cache and the reload key on) but not the code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use agw_domain::{NodeCall, NodeExecutor};
use agw_plugins::policy::Policy;
use agw_plugins::{HostConfig, LoadReport, PluginHost, PluginSource};
use anyhow::Context;
use serde_json::{Map, Value, json};

/// Iterations of each per-call figure.
const CALLS: usize = 2000;
/// Untimed iterations before each per-call figure.
const WARM_UP: usize = 100;
/// Extra std-nodes versions loaded for the memory figure.
const COPIES: usize = 16;
/// Environment the memory child reads (set by the parent only).
const ENV_CACHE: &str = "AGW_BENCH_PLUGIN_CACHE";
const ENV_MODE: &str = "AGW_BENCH_MEMORY_MODE";

pub(crate) const COMMAND: &str = "AGW_PREBUILT_PLUGINS=target/wasm-plugins/wasm32-wasip2/release \
     cargo run --release -p agw-bench -- --suite plugins --out docs/benchmarks/plugins.json";

/// The whole suite's report.
pub(crate) fn suite() -> anyhow::Result<Value> {
    let started = Instant::now();
    let engine = PluginHost::new(HostConfig::default())?.engine_info();
    let mut report = json!({
        "benchmark": "plugins",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "command": COMMAND,
        "machine": machine(),
        "wasmtime": wasmtime_version(),
        "engine": serde_json::to_value(&engine)?,
        "instantiate_and_call": instantiate_and_call()?,
        "load_per_component": load_per_component()?,
        "memory_idle": memory_idle()?,
        "hot_swap": hot_swap()?,
    });
    report["suite_seconds"] = json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Percentiles and mean of `samples`, in microseconds (0.1 µs resolution).
fn micros(samples: Vec<Duration>) -> Value {
    summarize(samples, 1e6, "us")
}

/// Same, in milliseconds (µs resolution).
fn millis(samples: Vec<Duration>) -> Value {
    summarize(samples, 1e3, "ms")
}

fn summarize(mut samples: Vec<Duration>, scale: f64, unit: &str) -> Value {
    if samples.is_empty() {
        return json!({"n": 0});
    }
    samples.sort();
    let round = |d: Duration| (d.as_secs_f64() * scale * 1e3).round() / 1e3;
    let at = |q: f64| round(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    let mut out = Map::new();
    out.insert("n".into(), json!(samples.len()));
    for (name, value) in [
        ("p50", at(0.5)),
        ("p90", at(0.9)),
        ("p99", at(0.99)),
        ("mean", (mean * scale * 1e3).round() / 1e3),
        ("min", round(samples[0])),
        ("max", round(samples[samples.len() - 1])),
    ] {
        out.insert(format!("{name}_{unit}"), json!(value));
    }
    Value::Object(out)
}

/// `bytes` with one more custom section (id 0, size, name, payload) at the end: a component
/// accepts custom sections anywhere, so this is the same code under a different sha256.
fn with_custom_section(bytes: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(out: &mut Vec<u8>, mut n: usize) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(&mut out, body.len());
    out.extend(body);
    out
}

fn std_nodes_bytes() -> anyhow::Result<&'static [u8]> {
    agw_firstparty::EMBEDDED.iter().find(|p| p.name == "std-nodes").map(|p| p.wasm).context("std-nodes is embedded")
}

fn std_nodes() -> anyhow::Result<PluginSource> {
    Ok(PluginSource::first_party("std-nodes", std_nodes_bytes()?))
}

/// A test component built from the plugins workspace (`AGW_PREBUILT_PLUGINS`).
fn component_bytes(crate_name: &str) -> anyhow::Result<Vec<u8>> {
    let path = agw_firstparty::component_path(crate_name);
    std::fs::read(&path).with_context(|| format!("read {} (build the plugins workspace)", path.display()))
}

fn host_on(cache: &Path) -> anyhow::Result<PluginHost> {
    Ok(PluginHost::new(HostConfig { cache_dir: Some(cache.to_owned()), ..HostConfig::default() })?)
}

fn ensure_clean(report: &LoadReport, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(report.problems.is_empty(), "{what}: {:?}", report.problems);
    Ok(())
}

/// Calls `node_type` with `inputs` (an object) and no config.
fn call(session: &mut dyn NodeExecutor, node_type: &str, inputs: Map<String, Value>) -> anyhow::Result<Value> {
    let config = Map::new();
    let call = NodeCall { run_id: "bench", workflow_id: "bench", node_id: "n1", node_type, config: &config, inputs };
    session.execute(call).map(Value::Object).map_err(|e| anyhow::anyhow!("{node_type}: {}", e.message))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Instantiate + call

/// Times `iteration` `CALLS` times after `WARM_UP` untimed runs.
fn timed(mut iteration: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Value> {
    for _ in 0..WARM_UP {
        iteration()?;
    }
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        iteration()?;
        samples.push(started.elapsed());
    }
    Ok(micros(samples))
}

fn instantiate_and_call() -> anyhow::Result<Value> {
    let cache = tempfile::tempdir()?;
    let host = host_on(cache.path())?;
    let policy = Policy::parse(
        "[plugins.test-sandbox]\nworkspace = \"read-write\"\nconfig = { greeting = \"hello\" }\n",
        "plugins.toml",
    )?;
    let sandbox = PluginSource::file("test_sandbox.wasm", component_bytes("test-sandbox")?);
    ensure_clean(&host.load_with(vec![std_nodes()?, sandbox], &policy), "load std-nodes and test-sandbox")?;
    let workspace = tempfile::tempdir()?;
    std::fs::write(workspace.path().join("inside.txt"), "inside")?;

    let add = object(json!({"a": 1, "b": 2}));
    let greeting = object(json!({"key": "greeting"}));
    let check_add = |out: Value| {
        anyhow::ensure!(out["result"] == json!(3.0), "add answered {out}");
        Ok(())
    };
    let check_greeting = |out: Value| {
        anyhow::ensure!(out["result"] == json!("hello"), "test_config answered {out}");
        Ok(())
    };

    let fresh_add = timed(|| {
        let inputs = add.clone();
        let mut session = host.session();
        let out = call(&mut session, "add", inputs)?;
        drop(session);
        check_add(out)
    })?;
    let mut live = host.session();
    let warm_add = timed(|| {
        let inputs = add.clone();
        check_add(call(&mut live, "add", inputs)?)
    })?;
    drop(live);
    let fresh_config = timed(|| {
        let inputs = greeting.clone();
        let mut session = host.session();
        let out = call(&mut session, "test_config", inputs)?;
        drop(session);
        check_greeting(out)
    })?;
    let fresh_config_workspace = timed(|| {
        let inputs = greeting.clone();
        let mut session = host.session_in(workspace.path());
        let out = call(&mut session, "test_config", inputs)?;
        drop(session);
        check_greeting(out)
    })?;
    // The workspace really is mounted in that session.
    let mut session = host.session_in(workspace.path());
    let read = call(&mut session, "test_fs_read", object(json!({"path": "/workspace/inside.txt"})))?;
    anyhow::ensure!(read["result"] == "inside", "the workspace is not mounted: {read}");

    Ok(json!({
        "what": "each figure times the closure shown, inputs cloned inside the timer; fresh = new TickSession \
                 (new Store, instance from the InstancePre, WASI context), one call, drop",
        "std_nodes_add_fresh_session": fresh_add,
        "std_nodes_add_warm_session": warm_add,
        "test_sandbox_config_fresh_session_no_workspace": fresh_config,
        "test_sandbox_config_fresh_session_workspace_rw": fresh_config_workspace,
    }))
}

// ---------------------------------------------------------------------------------------------
// 2. Cold compile vs cached load

const COLD_REPS: usize = 3;
const CACHED_REPS: usize = 5;

fn load_per_component() -> anyhow::Result<Value> {
    let mut components: Vec<(&str, PluginSource)> = vec![("std-nodes", std_nodes()?)];
    for name in ["test-sandbox", "test-hostile", "test-peer", "hello-node"] {
        let path = agw_firstparty::component_path(name);
        if path.is_file() {
            let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            components.push((name, PluginSource::file(label, component_bytes(name)?)));
        }
    }
    let mut out = Map::new();
    for (name, source) in components {
        let mut cold = Vec::new();
        let mut cached = Vec::new();
        let mut cwasm_bytes = 0;
        for _ in 0..COLD_REPS {
            let cache = tempfile::tempdir()?;
            let host = host_on(cache.path())?;
            let started = Instant::now();
            let report = host.load(vec![source.clone()]);
            cold.push(started.elapsed());
            ensure_clean(&report, name)?;
            anyhow::ensure!(report.compiled == 1, "{name}: expected a compile, got {report:?}");
            drop(host);
            for entry in std::fs::read_dir(cache.path())? {
                cwasm_bytes = entry?.metadata()?.len();
            }
            for _ in 0..CACHED_REPS.div_ceil(COLD_REPS) {
                let host = host_on(cache.path())?;
                let started = Instant::now();
                let report = host.load(vec![source.clone()]);
                cached.push(started.elapsed());
                anyhow::ensure!(report.cache_hits == 1 && report.compiled == 0, "{name}: expected a cache hit");
            }
        }
        out.insert(
            name.to_owned(),
            json!({
                "wasm_bytes": source.bytes.len(),
                "cwasm_bytes": cwasm_bytes,
                "cold_compile": millis(cold),
                "cached_load": millis(cached),
            }),
        );
    }
    Ok(json!({
        "what": "PluginHost::load of that one component, host already created: cold = empty cache dir \
                 (Cranelift compile, cache file written and fsynced, describe + list-nodes in a probe \
                 instance); cached = a second host on the same dir (deserialize_file + the same probe)",
        "components": out,
    }))
}

// ---------------------------------------------------------------------------------------------
// 3. Memory per idle loaded plugin

/// `VmRSS`, `RssAnon`, `RssFile` of this process, in KiB.
fn rss() -> anyhow::Result<Value> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let mut out = Map::new();
    for line in status.lines() {
        if let Some((key, value)) = line.split_once(':')
            && matches!(key, "VmRSS" | "RssAnon" | "RssFile")
        {
            let kib: u64 = value.trim().trim_end_matches("kB").trim().parse().context("a kB figure")?;
            out.insert(format!("{key}_kib"), json!(kib));
        }
    }
    Ok(Value::Object(out))
}

/// The `i`-th extra std-nodes version (`same`: the unchanged bytes under another label).
fn copy_source(i: usize, same: bool) -> anyhow::Result<PluginSource> {
    let base = std_nodes_bytes()?;
    let bytes =
        if same { base.to_vec() } else { with_custom_section(base, "agw-bench", format!("copy-{i}").as_bytes()) };
    Ok(PluginSource::file(format!("copy-{i}.wasm"), bytes))
}

fn memory_idle() -> anyhow::Result<Value> {
    let cache = tempfile::tempdir()?;
    // Compile every version once here, so the child only deserializes (the steady state after a
    // restart) and its heap never holds Cranelift's leftovers.
    let fill = host_on(cache.path())?;
    let mut sources = vec![std_nodes()?];
    for i in 0..COPIES {
        sources.push(copy_source(i, false)?);
    }
    let report = fill.load(sources);
    anyhow::ensure!(report.loaded == COPIES + 1, "cache fill loaded {}", report.loaded);
    drop(fill);

    let exe = std::env::current_exe()?;
    let mut out = Map::new();
    for mode in ["distinct", "same"] {
        let child = Command::new(&exe)
            .args(["--suite", "plugins-memory"])
            .env(ENV_CACHE, cache.path())
            .env(ENV_MODE, mode)
            .output()
            .context("run the memory child")?;
        anyhow::ensure!(child.status.success(), "memory child failed: {}", String::from_utf8_lossy(&child.stderr));
        out.insert(mode.to_owned(), serde_json::from_slice(&child.stdout).context("the child's report")?);
    }
    Ok(json!({
        "what": format!(
            "a child process: RSS (/proc/self/status) after loading std-nodes once (and calling add once) \
             vs after loading {COPIES} more std-nodes versions from the warm disk cache in one load; \
             per_plugin = difference / {COPIES}. distinct = each version has its own sha256 (a custom \
             section appended), so its own cache file; same = the unchanged bytes under {COPIES} more \
             labels. No instance is alive at either point (idle). Node types the copies share are \
             withheld as conflicts, which does not change what is held in memory."
        ),
        "copies": COPIES,
        "modes": out,
    }))
}

/// The child side of [`memory_idle`] (`--suite plugins-memory`).
pub(crate) fn memory_probe() -> anyhow::Result<Value> {
    let cache = PathBuf::from(std::env::var_os(ENV_CACHE).context("run by `--suite plugins` only")?);
    let same = std::env::var(ENV_MODE).as_deref() == Ok("same");
    let process_start = rss()?;
    let host = host_on(&cache)?;
    let host_created = rss()?;
    let report = host.load(vec![std_nodes()?]);
    ensure_clean(&report, "std-nodes")?;
    let mut session = host.session();
    call(&mut session, "add", object(json!({"a": 1, "b": 2})))?;
    drop(session);
    let one_loaded = rss()?;
    let mut sources = vec![std_nodes()?];
    for i in 0..COPIES {
        sources.push(copy_source(i, same)?);
    }
    let report = host.load(sources);
    anyhow::ensure!(report.loaded == COPIES + 1, "loaded {}", report.loaded);
    let all_loaded = rss()?;
    let per_plugin = |key: &str| {
        let delta = all_loaded[key].as_i64().unwrap_or(0) - one_loaded[key].as_i64().unwrap_or(0);
        json!((delta as f64 / COPIES as f64).round())
    };
    Ok(json!({
        "cache_hits": report.cache_hits,
        "compiled": report.compiled,
        "rss_process_start": process_start,
        "rss_host_created": host_created,
        "rss_std_nodes_loaded_and_called": one_loaded,
        "rss_all_loaded": all_loaded,
        "per_plugin_kib": {
            "VmRSS": per_plugin("VmRSS_kib"),
            "RssAnon": per_plugin("RssAnon_kib"),
            "RssFile": per_plugin("RssFile_kib"),
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// 4. Hot swap

const SWAP_WARM: usize = 60;
const SWAP_COLD: usize = 8;
const SWAP_UNCHANGED: usize = 200;

fn hot_swap() -> anyhow::Result<Value> {
    let cache = tempfile::tempdir()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("test_sandbox.wasm");
    let original = component_bytes("test-sandbox")?;
    let first_party = vec![std_nodes()?];
    let host = host_on(cache.path())?;
    let version = |tag: &str| with_custom_section(&original, "agw-bench", tag.as_bytes());
    let reload = |bytes: Option<&[u8]>| -> anyhow::Result<(Duration, LoadReport)> {
        if let Some(bytes) = bytes {
            std::fs::write(&file, bytes)?;
        }
        let started = Instant::now();
        let report = host.load_dir(dir.path(), &first_party)?;
        let elapsed = started.elapsed();
        ensure_clean(&report.load, "load_dir")?;
        anyhow::ensure!(report.load.loaded == 2, "loaded {}", report.load.loaded);
        if let Some(bytes) = bytes {
            let serving = host.plugin("test-sandbox").context("test-sandbox is loaded")?;
            anyhow::ensure!(serving.sha256 == agw_plugins::signing::sha256_hex(bytes), "the new version serves");
        }
        Ok((elapsed, report.load))
    };

    // The cached versions: compiled once, then swapped back and forth.
    let (a, b) = (version("swap-a"), version("swap-b"));
    reload(Some(&a))?;
    reload(Some(&b))?;
    let mut warm = Vec::new();
    for i in 0..SWAP_WARM {
        let (elapsed, report) = reload(Some(if i % 2 == 0 { &a } else { &b }))?;
        anyhow::ensure!(report.cache_hits == 1 && report.compiled == 0, "expected a cache hit: {report:?}");
        warm.push(elapsed);
    }
    let mut cold = Vec::new();
    for i in 0..SWAP_COLD {
        let (elapsed, report) = reload(Some(&version(&format!("swap-cold-{i}"))))?;
        anyhow::ensure!(report.compiled == 1, "expected a compile: {report:?}");
        cold.push(elapsed);
    }
    let mut unchanged = Vec::new();
    for _ in 0..SWAP_UNCHANGED {
        let (elapsed, report) = reload(None)?;
        anyhow::ensure!(report.cache_hits == 0 && report.compiled == 0, "nothing should load: {report:?}");
        unchanged.push(elapsed);
    }
    let mut session = host.session();
    call(&mut session, "test_config", object(json!({"key": "greeting"})))?;
    // What an unchanged reload cannot skip: hashing every file to see that nothing changed.
    let std_nodes = std_nodes_bytes()?;
    let mut hashing = Vec::new();
    for _ in 0..SWAP_UNCHANGED {
        let started = Instant::now();
        let digests = [agw_plugins::signing::sha256_hex(std_nodes), agw_plugins::signing::sha256_hex(&b)];
        hashing.push(started.elapsed());
        anyhow::ensure!(digests[0] != digests[1], "two different files");
    }

    Ok(json!({
        "what": "PluginHost::load_dir(dir, [std-nodes]) after test_sandbox.wasm in dir was rewritten \
                 (untimed) with another version: policy read, scan + read + sha256 of every file, \
                 compile or cache deserialize, describe + list-nodes probe, grant, registry swap. \
                 unchanged = same call with nothing changed (both plugins reused as they are)",
        "wasm_bytes": original.len(),
        "changed_cache_warm": millis(warm),
        "changed_cache_cold": millis(cold),
        "unchanged": millis(unchanged),
        "sha256_of_both_files": millis(hashing),
    }))
}

// ---------------------------------------------------------------------------------------------
// Machine facts

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).map(|m| m.trim().to_owned());
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "mem_total": mem_total,
        "tmpdir": std::env::temp_dir().display().to_string(),
    })
}

/// The wasmtime version in the workspace's lock file.
fn wasmtime_version() -> Option<String> {
    let lock = std::fs::read_to_string(crate::repo().join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasmtime\"" {
            return lines.next()?.strip_prefix("version = ").map(|v| v.trim_matches('"').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::with_custom_section;

    #[test]
    fn custom_section_is_id_zero_size_name_payload() {
        let out = with_custom_section(b"X", "ab", &[7; 200]);
        // size = 1 (name length) + 2 (name) + 200 = 203 = 0xcb 0x01 in LEB128
        assert_eq!(&out[..6], &[b'X', 0, 0xcb, 0x01, 2, b'a']);
        assert_eq!(out.len(), 1 + 1 + 2 + 1 + 2 + 200);
    }
}
