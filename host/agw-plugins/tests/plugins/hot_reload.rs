//! Hot reload of the plugins directory: a good new version is swapped in at once, a broken
//! one is refused while the previous version keeps serving, a removed one disappears, and a
//! call already running finishes on the version it started with.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use agw_domain::NodeExecutor;
use agw_plugins::PluginHost;
use common::{call, config, host};
use serde_json::json;

/// The component bytes with a custom section appended: the same code, another sha256 (as a
/// rebuilt plugin would have).
fn version(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"agw-version";
    let payload = tag.as_bytes();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(u8::try_from(section.len()).unwrap());
    out.extend_from_slice(&section);
    out
}

fn sandbox_bytes() -> Vec<u8> {
    std::fs::read(agw_firstparty::component_path("test-sandbox")).unwrap()
}

fn sha_of(host: &PluginHost, name: &str) -> String {
    host.plugin(name).map(|p| p.sha256).unwrap_or_default()
}

/// Replaces `path` the way operators are told to: write beside it, then rename.
fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let temp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, dir.join(name)).unwrap();
}

/// Answers one request after `delay`.
fn slow_server(delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            std::thread::sleep(delay);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nv1");
        }
    });
    port
}

#[test]
fn good_then_broken_versions_while_a_call_is_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let port = slow_server(Duration::from_millis(800));
    std::fs::write(
        dir.path().join("plugins.toml"),
        format!("[plugins.test-sandbox]\nhosts = [{{ host = \"127.0.0.1\", port = {port}, methods = [\"GET\"] }}]"),
    )
    .unwrap();
    let v1 = version(&sandbox_bytes(), "1");
    install(dir.path(), "test_sandbox.wasm", &v1);
    let host = host(config());
    let report = host.load_dir(dir.path(), &[]).unwrap();
    assert!(report.load.problems.is_empty(), "{:?}", report.load.problems);
    let sha1 = sha_of(&host, "test-sandbox");

    // A step starts on v1 and is still waiting on its HTTP answer during the reload.
    let in_flight = {
        let mut session = host.session();
        std::thread::spawn(move || {
            let url = format!("http://127.0.0.1:{port}/");
            let out = call(&mut session, "test_http", json!({}), json!({ "method": "GET", "url": url }));
            (out, session.provenance("test_http").unwrap())
        })
    };
    std::thread::sleep(Duration::from_millis(200));

    // A good v2 is swapped in while that step runs.
    install(dir.path(), "test_sandbox.wasm", &version(&sandbox_bytes(), "2"));
    let report = host.load_dir(dir.path(), &[]).unwrap();
    assert!(report.load.problems.is_empty(), "{:?}", report.load.problems);
    let sha2 = sha_of(&host, "test-sandbox");
    assert_ne!(sha1, sha2);
    // New sessions run v2 at once.
    assert_eq!(host.session().provenance("test_config").unwrap()["sha256"], sha2.as_str());

    // The step that started on v1 finishes there.
    let (out, provenance) = in_flight.join().unwrap();
    assert_eq!(out.unwrap()["body"], "v1");
    assert_eq!(provenance["sha256"], sha1.as_str());

    // A broken v3 (truncated, as a half-copied file would be) is refused; v2 keeps serving.
    install(dir.path(), "test_sandbox.wasm", &v1[..v1.len() / 2]);
    let report = host.load_dir(dir.path(), &[]).unwrap();
    let problem = common::problem(&report.load, "test_sandbox.wasm");
    assert!(problem.contains("not a WebAssembly component"), "{problem}");
    assert!(
        problem.contains(&format!("still serving the previous version (test-sandbox 0.1.0, sha256 {sha2})")),
        "{problem}"
    );
    assert_eq!(sha_of(&host, "test-sandbox"), sha2);
    assert!(host.problems().iter().any(|p| p.reason.contains("still serving")));
    let mut session = host.session();
    call(&mut session, "test_config", json!({}), json!({ "key": "greeting" })).unwrap();

    // Removed: gone, along with its problem.
    std::fs::remove_file(dir.path().join("test_sandbox.wasm")).unwrap();
    let report = host.load_dir(dir.path(), &[]).unwrap();
    assert!(report.load.problems.is_empty(), "{:?}", report.load.problems);
    assert!(host.plugin("test-sandbox").is_none());
    let error = call(&mut host.session(), "test_config", json!({}), json!({ "key": "greeting" })).unwrap_err();
    assert_eq!(error.message, "no loaded plugin provides node type 'test_config'");
}

#[test]
fn an_invalid_policy_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plugins.toml"), "[plugins.test-sandbox]\nconfig = { greeting = \"Hi\" }").unwrap();
    install(dir.path(), "test_sandbox.wasm", &sandbox_bytes());
    let host = host(config());
    host.load_dir(dir.path(), &[]).unwrap();
    std::fs::write(dir.path().join("plugins.toml"), "[plugins.test-sandbox]\nworkspace = \"everything\"").unwrap();
    let error = host.load_dir(dir.path(), &[]).unwrap_err();
    assert!(error.to_string().contains("plugins.toml"), "{error}");
    let out = call(&mut host.session(), "test_config", json!({}), json!({ "key": "greeting" })).unwrap();
    assert_eq!(out["result"], "Hi");
}

#[test]
fn the_watcher_reloads_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(config());
    host.load_dir(dir.path(), &[]).unwrap();
    let _watcher = host.watch(dir.path(), Vec::new()).unwrap();
    assert!(host.plugin("test-sandbox").is_none());

    install(dir.path(), "test_sandbox.wasm", &sandbox_bytes());
    wait_for(|| host.plugin("test-sandbox").is_some(), "the new plugin to load");
    // A changed policy is picked up too.
    std::fs::write(dir.path().join("plugins.toml"), "[plugins.test-sandbox]\nconfig = { greeting = \"Hey\" }").unwrap();
    wait_for(|| host.plugin("test-sandbox").is_some_and(|p| p.granted.config_keys == ["greeting"]), "the new grant");
    let out = call(&mut host.session(), "test_config", json!({}), json!({ "key": "greeting" })).unwrap();
    assert_eq!(out["result"], "Hey");

    std::fs::remove_file(dir.path().join("test_sandbox.wasm")).unwrap();
    wait_for(|| host.plugin("test-sandbox").is_none(), "the removed plugin to go");
}

fn wait_for(done: impl Fn() -> bool, what: &str) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_watcher_reloads_once_per_change_not_on_its_own_reads() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(config());
    host.load_dir(dir.path(), &[]).unwrap();
    let watcher = host.watch(dir.path(), Vec::new()).unwrap();

    // A reload reads every file, and the watcher sees those reads: they are no change.
    install(dir.path(), "test_sandbox.wasm", &sandbox_bytes());
    wait_for(|| host.plugin("test-sandbox").is_some(), "the new plugin to load");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(watcher.reloads(), 1);

    // A touch changes the mtime, not the bytes.
    let path = dir.path().join("test_sandbox.wasm");
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5)).unwrap();
    drop(file);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(watcher.reloads(), 1);

    // New bytes do.
    let before = sha_of(&host, "test-sandbox");
    install(dir.path(), "test_sandbox.wasm", &version(&sandbox_bytes(), "2"));
    wait_for(|| sha_of(&host, "test-sandbox") != before, "the new version to load");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(watcher.reloads(), 2);
}
