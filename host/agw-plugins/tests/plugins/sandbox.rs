//! Misbehaving plugins fail one call with a clear error; the host keeps serving.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::{Duration, Instant};

use agw_plugins::{HostConfig, PluginHost};
use common::{assert_add_works, call, config, host, problem, short_deadline, std_nodes, test_component};
use serde_json::json;

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let host = host(short_deadline(Duration::from_millis(200)));
    let report = host.load(vec![std_nodes(), test_component("test-hostile")]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let mut session = host.session();
    let started = Instant::now();
    let err = call(&mut session, "test_spin", json!({}), json!({})).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.message, "plugin 'test-hostile' exceeded its deadline (200ms)");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // The trapped instance is dropped; the same session can call again (a fresh instance)...
    let err = call(&mut session, "test_spin", json!({}), json!({})).unwrap_err();
    assert!(err.message.contains("deadline"), "{}", err.message);
    // ...other plugins in the same session work, and so does a new session.
    let out = call(&mut session, "add", json!({}), json!({ "a": 1, "b": 2 })).unwrap();
    assert_eq!(out["result"], json!(3.0));
    assert_add_works(&host);
}

#[test]
fn a_blocking_wait_is_stopped_at_the_deadline() {
    let host = host(short_deadline(Duration::from_millis(200)));
    assert!(host.load(vec![std_nodes(), test_component("test-hostile")]).problems.is_empty());
    let mut session = host.session();
    // A WASI clock wait runs no guest code, so no epoch check can stop it: the host must.
    let err = call(&mut session, "test_sleep", json!({}), json!({ "ms": 30_000 })).unwrap_err();
    assert_eq!(err.message, "plugin 'test-hostile' exceeded its deadline (200ms) while blocked in a host call");
    // A wait within the deadline completes, on the fresh instance that replaced the dropped one.
    let out = call(&mut session, "test_sleep", json!({}), json!({ "ms": 20 })).unwrap();
    assert_eq!(out["result"], json!(20.0));
    assert_add_works(&host);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let config = HostConfig { memory_limit_bytes: 32 * 1024 * 1024, ..config() };
    let host = host(config);
    let report = host.load(vec![std_nodes(), test_component("test-hostile")]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let mut session = host.session();
    let err = call(&mut session, "test_hog", json!({}), json!({ "mib": 512 })).unwrap_err();
    assert_eq!(err.message, "plugin 'test-hostile' ran out of memory (limit 32 MiB)");

    // A modest allocation on the fresh instance that replaces the trapped one still works.
    let out = call(&mut session, "test_hog", json!({}), json!({ "mib": 4 })).unwrap();
    assert_eq!(out["result"], json!(4 * 1024 * 1024));
    assert_add_works(&host);
}

#[test]
fn the_host_filesystem_is_invisible() {
    let host = host(config());
    assert!(host.load(vec![test_component("test-hostile")]).problems.is_empty());
    let mut session = host.session();
    for path in ["/etc/passwd", "../../../../etc/passwd", "/proc/self/environ"] {
        let err = call(&mut session, "test_read_file", json!({}), json!({ "path": path })).unwrap_err();
        assert!(err.message.starts_with("plugin 'test-hostile': cannot read"), "{}", err.message);
        assert!(!err.message.contains("root:"), "{}", err.message);
    }
}

#[test]
fn broken_sources_are_reported_and_the_rest_loads() {
    let empty_component = wat::parse_str("(component)").unwrap();
    let core_module = wat::parse_str("(module)").unwrap();
    let host = host(config());
    let report = host.load(vec![
        agw_plugins::PluginSource::file("garbage.wasm", b"this is not wasm".to_vec()),
        agw_plugins::PluginSource::file("core.wasm", core_module),
        agw_plugins::PluginSource::file("empty.wasm", empty_component),
        test_component("test-bad-describe"),
        std_nodes(),
    ]);
    assert_eq!(report.loaded, 1);
    let reason = |label: &str| problem(&report, label);
    assert!(reason("garbage.wasm").starts_with("not a WebAssembly component"), "{}", reason("garbage.wasm"));
    assert!(reason("core.wasm").starts_with("not a WebAssembly component"), "{}", reason("core.wasm"));
    assert!(reason("empty.wasm").starts_with("does not implement a known world"), "{}", reason("empty.wasm"));
    let bad = reason("test_bad_describe.wasm");
    assert!(bad.starts_with("describe() failed: trapped"), "{bad}");
    assert!(bad.contains("describe() fails on purpose"), "the guest's panic message is quoted: {bad}");
    for problem in &report.problems {
        println!("{problem}");
    }
    assert_eq!(report.problems.len(), 4, "{:?}", report.problems);
    assert_eq!(host.problems(), report.problems);

    assert_eq!(host.plugins().len(), 1);
    assert_add_works(&host);
}

#[test]
fn engine_uses_the_pooling_allocator_here() {
    let host = host(config());
    let info = host.engine_info();
    // This machine has the address space; elsewhere the fallback is on-demand.
    assert_eq!(info.allocator, agw_plugins::Allocator::Pooling, "{:?}", info.pooling_error);
    assert_eq!(info.engine_hash.len(), 16);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<PluginHost>();
    send::<agw_plugins::TickSession>();
}
