//! Loading: the disk cache, atomic replacement, and node-type conflicts.

#![allow(clippy::unwrap_used)]

use crate::common;

use agw_plugins::{HostConfig, PluginSource};
use common::{assert_add_works, call, config, host, problem, std_nodes};
use serde_json::json;

#[test]
fn a_warm_start_does_not_compile() {
    // The first host fills the shared cache if an earlier run has not already.
    let first = host(config());
    let report = first.load(vec![std_nodes()]);
    assert_eq!(report.compiled + report.cache_hits, 1);
    drop(first);

    let second = host(config());
    let report = second.load(vec![std_nodes()]);
    assert_eq!((report.compiled, report.cache_hits), (0, 1));
    assert_add_works(&second);
}

#[test]
fn a_corrupt_cache_file_is_recompiled_and_replaced() {
    // A tiny component keeps this cheap; the cache sits before world validation.
    let bytes = wat::parse_str("(component (core module))").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = HostConfig { cache_dir: Some(dir.path().to_owned()), ..HostConfig::default() };
    let source = || PluginSource::file("tiny.wasm", bytes.clone());

    let report = host(cfg.clone()).load(vec![source()]);
    assert_eq!((report.compiled, report.cache_hits), (1, 0));
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one cache file and no temp files left: {files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(".cwasm") && name.len() == 64 + 1 + 16 + 6, "{name}");

    std::fs::write(&files[0], b"torn").unwrap();
    let report = host(cfg.clone()).load(vec![source()]);
    assert_eq!((report.compiled, report.cache_hits), (1, 0));
    let report = host(cfg).load(vec![source()]);
    assert_eq!((report.compiled, report.cache_hits), (0, 1));
}

#[test]
fn a_node_type_two_plugins_provide_is_withheld() {
    let host = host(config());
    let mut copy = std_nodes();
    copy.label = "std-nodes-copy.wasm".into();
    let report = host.load(vec![std_nodes(), copy]);
    assert_eq!(report.loaded, 2);
    let add = report.problems.iter().find(|p| p.reason.contains("'add'")).unwrap();
    assert!(add.reason.contains("'std-nodes' (std-nodes)"), "{}", add.reason);
    assert!(add.reason.contains("'std-nodes' (std-nodes-copy.wasm)"), "{}", add.reason);
    assert_eq!(host.provides("add"), None);
    let err = call(&mut host.session(), "add", json!({}), json!({ "a": 1, "b": 2 })).unwrap_err();
    assert!(err.message.contains("withheld"), "{}", err.message);

    // Reloading without the copy resolves the conflict, atomically replacing the set.
    let report = host.load(vec![std_nodes()]);
    assert!(report.problems.is_empty());
    assert_eq!(host.provides("add"), Some(true));
    assert_add_works(&host);
}

#[test]
fn a_session_keeps_the_set_it_started_with() {
    let host = host(config());
    host.load(vec![std_nodes()]);
    let mut before = host.session();
    host.load(Vec::new());
    assert_eq!(host.provides("add"), None);
    let out = call(&mut before, "add", json!({}), json!({ "a": 1, "b": 2 })).unwrap();
    assert_eq!(out["result"], json!(3.0));
    assert!(call(&mut host.session(), "add", json!({}), json!({})).is_err());
}

/// Exports both interfaces of `node-executor` but `nodes` lacks `execute` and `describe`
/// answers a `u32`: each must be a load problem that names what is wrong, never a panic.
#[test]
fn a_partial_or_mistyped_world_is_reported_by_name() {
    let world = |nodes: &str| {
        let text = format!(
            r#"(component
              (core module $m (func (export "f") (result i32) i32.const 0))
              (core instance $i (instantiate $m))
              (func $f (result u32) (canon lift (core func $i "f")))
              (instance $plugin (export "describe" (func $f)))
              (instance $nodes {nodes})
              (export "abstractgateway:plugin/plugin@0.1.0" (instance $plugin))
              (export "abstractgateway:plugin/nodes@0.1.0" (instance $nodes)))"#
        );
        wat::parse_str(text).unwrap()
    };
    let host = host(HostConfig::default());
    let report = host.load(vec![
        PluginSource::file("empty.wasm", wat::parse_str("(component)").unwrap()),
        PluginSource::file("partial.wasm", world(r#"(export "list-nodes" (func $f))"#)),
        PluginSource::file("mistyped.wasm", world(r#"(export "list-nodes" (func $f)) (export "execute" (func $f))"#)),
    ]);
    assert_eq!(report.loaded, 0);
    let reason = |label: &str| problem(&report, label);
    assert_eq!(
        reason("empty.wasm"),
        "does not implement a known world (node-executor, llm-provider): missing export \
         abstractgateway:plugin/plugin@0.1.0, abstractgateway:plugin/nodes@0.1.0 or abstractgateway:plugin/llm@0.1.0"
    );
    let partial = reason("partial.wasm");
    assert!(
        partial.starts_with("does not implement a known world (node-executor):")
            && partial.contains("abstractgateway:plugin/nodes@0.1.0")
            && partial.contains("`execute`"),
        "{partial}"
    );
    let mistyped = reason("mistyped.wasm");
    assert!(
        mistyped.starts_with("does not implement a known world (node-executor):")
            && mistyped.contains("export abstractgateway:plugin/plugin@0.1.0:")
            && mistyped.contains("expected `record` found `u32`"),
        "{mistyped}"
    );
}
