//! std-nodes loads from the embedded first-party set and passes every reference vector.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::Instant;

use agw_plugins::{PluginHost, PluginOrigin};
use common::{call, config, host, std_nodes};
use serde_json::{Value, json};

#[test]
fn std_nodes_loads_and_describes_itself() {
    let host = host(config());
    let report = host.load(vec![std_nodes()]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.loaded, 1);
    assert_eq!(report.compiled + report.cache_hits, 1);

    let plugins = host.plugins();
    let plugin = &plugins[0];
    assert_eq!(plugin.name, "std-nodes");
    assert_eq!(plugin.origin, PluginOrigin::FirstParty);
    assert_eq!(plugin.label, "std-nodes");
    assert_eq!(plugin.worlds, ["node-executor"]);
    assert_eq!(plugin.sha256.len(), 64);
    let add = plugin.nodes.iter().find(|n| n.node_type == "add").unwrap();
    assert!(add.pure);
    assert_eq!(add.category, "math");
    assert!(add.inputs.iter().any(|p| p.id == "a"));
    assert_eq!(host.provides("add"), Some(true));
    assert_eq!(host.provides("no_such_node"), None);

    // A node type nobody provides fails cleanly.
    let err = call(&mut host.session(), "no_such_node", json!({}), json!({})).unwrap_err();
    assert!(err.message.contains("no_such_node"), "{}", err.message);
}

#[test]
fn every_std_nodes_vector_passes() {
    let host = host(config());
    assert!(host.load(vec![std_nodes()]).problems.is_empty());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/std-nodes/vectors.json");
    let vectors: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(!vectors.is_empty());

    // One session for the whole file, as a long tick would: the instance is reused.
    let mut session = host.session();
    let mut failures = Vec::new();
    for (i, vector) in vectors.iter().enumerate() {
        let node_type = vector["node_type"].as_str().unwrap();
        let got = call(&mut session, node_type, vector["config"].clone(), vector["inputs"].clone());
        let ok = match (&got, vector) {
            (Err(_), v) if v.get("expect_error") == Some(&Value::Bool(true)) => true,
            (Ok(out), v) if v.get("expect").is_some() => Value::Object(out.clone()) == v["expect"],
            (Ok(out), v) if v.get("expect_range").is_some() => {
                let lo = v["expect_range"][0].as_f64().unwrap();
                let hi = v["expect_range"][1].as_f64().unwrap();
                out.get("result").and_then(Value::as_f64).is_some_and(|r| (lo..=hi).contains(&r))
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("#{i} {vector}: got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
}

#[test]
fn timings_of_load_and_call() {
    // Cold: a fresh cache dir forces a compile (a debug build of the host compiles slowly).
    let dir = tempfile::tempdir().unwrap();
    let cfg = agw_plugins::HostConfig { cache_dir: Some(dir.path().to_owned()), ..Default::default() };
    let cold_host = PluginHost::new(cfg.clone()).unwrap();
    let started = Instant::now();
    let report = cold_host.load(vec![std_nodes()]);
    let cold = started.elapsed();
    assert_eq!((report.compiled, report.cache_hits), (1, 0));
    drop(cold_host);

    let warm_host = PluginHost::new(cfg).unwrap();
    let started = Instant::now();
    let report = warm_host.load(vec![std_nodes()]);
    let warm = started.elapsed();
    assert_eq!((report.compiled, report.cache_hits), (0, 1));

    let started = Instant::now();
    let rounds = 50;
    for _ in 0..rounds {
        let mut session = warm_host.session();
        call(&mut session, "add", json!({}), json!({ "a": 1, "b": 2 })).unwrap();
    }
    let fresh = started.elapsed() / rounds;
    let mut session = warm_host.session();
    call(&mut session, "add", json!({}), json!({ "a": 1, "b": 2 })).unwrap();
    let started = Instant::now();
    for _ in 0..rounds {
        call(&mut session, "add", json!({}), json!({ "a": 1, "b": 2 })).unwrap();
    }
    let reused = started.elapsed() / rounds;
    println!(
        "std-nodes ({} KiB, allocator {:?}): cold load (compile) {cold:?}, warm load (cache) {warm:?}, \
         new session+instantiate+add {fresh:?}, add on a live instance {reused:?}",
        std_nodes().bytes.len() / 1024,
        warm_host.engine_info().allocator,
    );
}
