//! Shared helpers: one compiled-component cache for every test run (debug builds compile
//! slowly, so each component is compiled once and reused), and the plugins under test.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use agw_domain::{NodeCall, NodeExecutor, NodeFailure};
use agw_plugins::{HostConfig, LoadReport, PluginHost, PluginSource};
use serde_json::{Map, Value, json};

/// The cache shared by all tests and all runs (lives in the cargo target dir).
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agw-plugins-cache")
}

pub fn config() -> HostConfig {
    HostConfig { cache_dir: Some(shared_cache()), ..HostConfig::default() }
}

pub fn host(config: HostConfig) -> PluginHost {
    PluginHost::new(config).unwrap()
}

pub fn std_nodes() -> PluginSource {
    let plugin = agw_firstparty::EMBEDDED.iter().find(|p| p.name == "std-nodes").unwrap();
    PluginSource::first_party(plugin.name, plugin.wasm)
}

/// A test-only component from the plugins workspace, as if dropped into the plugin directory.
pub fn test_component(crate_name: &str) -> PluginSource {
    let path = agw_firstparty::component_path(crate_name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    PluginSource::file(format!("{}.wasm", crate_name.replace('-', "_")), bytes)
}

/// Calls one node through a session.
pub fn call(
    executor: &mut dyn NodeExecutor,
    node_type: &str,
    config: Value,
    inputs: Value,
) -> Result<Map<String, Value>, NodeFailure> {
    let Value::Object(config) = config else { panic!("config must be an object") };
    let Value::Object(inputs) = inputs else { panic!("inputs must be an object") };
    executor.execute(NodeCall {
        run_id: "run-1",
        workflow_id: "wf-1",
        node_id: "node-1",
        node_type,
        config: &config,
        inputs,
    })
}

/// `add` works: the host is still serving.
pub fn assert_add_works(host: &PluginHost) {
    let mut session = host.session();
    let out = call(&mut session, "add", json!({}), json!({ "a": 40, "b": 2 })).unwrap();
    assert_eq!(Value::Object(out), json!({ "result": 42.0 }));
}

pub fn short_deadline(deadline: Duration) -> HostConfig {
    HostConfig { call_deadline: deadline, ..config() }
}

/// The reason a load reported for `label`; panics (listing every problem) when there is none.
pub fn problem(report: &LoadReport, label: &str) -> String {
    report
        .problems
        .iter()
        .find(|p| p.label == label)
        .map(|p| p.reason.clone())
        .unwrap_or_else(|| panic!("no problem for {label}: {:?}", report.problems))
}
