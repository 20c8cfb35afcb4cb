//! Two-sided capabilities, end to end through real components: a plugin gets what it requests
//! AND the policy grants, nothing else: the workspace, hosts, config and secrets, and limits.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agw_plugins::policy::Policy;
use agw_plugins::{HostConfig, PluginHost, TickSession};
use common::{call, config, host, test_component};
use serde_json::{Value, json};

fn sandbox_host(policy: &str, config: HostConfig) -> PluginHost {
    let host = host(config);
    let policy = Policy::parse(policy, "plugins.toml").unwrap();
    let report = host.load_with(
        vec![test_component("test-sandbox"), test_component("test-peer"), test_component("test-hostile")],
        &policy,
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    host
}

fn run(session: &mut TickSession, node_type: &str, inputs: Value) -> Result<Value, String> {
    call(session, node_type, json!({}), inputs).map(Value::Object).map_err(|e| e.message)
}

/// A workspace with a file, next to a secret outside it, and symlinks that point out.
fn workspace(root: &Path) -> std::path::PathBuf {
    let ws = root.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("inside.txt"), "inside").unwrap();
    std::fs::write(root.join("outside.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink("../outside.txt", ws.join("relative-link")).unwrap();
    std::os::unix::fs::symlink(root.join("outside.txt"), ws.join("absolute-link")).unwrap();
    ws
}

#[test]
fn the_workspace_is_the_only_folder_and_nothing_escapes_it() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    let host = sandbox_host("[plugins.test-sandbox]\nworkspace = \"read-write\"", config());
    let mut session = host.session_in(&ws);

    assert_eq!(
        run(&mut session, "test_fs_read", json!({ "path": "/workspace/inside.txt" })).unwrap()["result"],
        "inside"
    );
    let outside = dir.path().join("outside.txt").display().to_string();
    for path in [
        "/workspace/../outside.txt",
        "/workspace/../../../../etc/passwd",
        outside.as_str(),
        "/etc/passwd",
        "/workspace/relative-link",
        "/workspace/absolute-link",
    ] {
        let error = run(&mut session, "test_fs_read", json!({ "path": path })).unwrap_err();
        assert!(!error.contains("TOP-SECRET") && !error.contains("root:"), "{path}: {error}");
        assert!(error.starts_with("plugin 'test-sandbox':"), "{path}: {error}");
    }
    // Writing works with read-write access, and lands in the run's folder.
    run(&mut session, "test_fs_write", json!({ "path": "/workspace/out.txt", "text": "hi" })).unwrap();
    assert_eq!(std::fs::read_to_string(ws.join("out.txt")).unwrap(), "hi");
    // Writing through `..` does not escape either.
    run(&mut session, "test_fs_write", json!({ "path": "/workspace/../escaped.txt", "text": "x" })).unwrap_err();
    assert!(!dir.path().join("escaped.txt").exists());
}

#[test]
fn read_access_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    let host = sandbox_host("[plugins.test-sandbox]\nworkspace = \"read\"", config());
    let mut session = host.session_in(&ws);
    assert_eq!(
        run(&mut session, "test_fs_read", json!({ "path": "/workspace/inside.txt" })).unwrap()["result"],
        "inside"
    );
    let listed = run(&mut session, "test_fs_list", json!({ "path": "/workspace" })).unwrap();
    assert!(listed["result"].as_array().unwrap().contains(&json!("inside.txt")), "{listed}");
    for path in ["/workspace/new.txt", "/workspace/inside.txt"] {
        let error = run(&mut session, "test_fs_write", json!({ "path": path, "text": "overwritten" })).unwrap_err();
        assert!(error.starts_with("plugin 'test-sandbox':"), "{error}");
    }
    assert!(!ws.join("new.txt").exists());
    assert_eq!(std::fs::read_to_string(ws.join("inside.txt")).unwrap(), "inside");
}

#[test]
fn without_a_grant_there_is_no_workspace_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace(dir.path());
    // test-sandbox requests read-write, but the policy does not mention it: deny by default.
    let host = sandbox_host("", config());
    let mut session = host.session_in(&ws);
    run(&mut session, "test_fs_read", json!({ "path": "/workspace/inside.txt" })).unwrap_err();
    run(&mut session, "test_fs_list", json!({ "path": "/workspace" })).unwrap_err();
    let summary = host.plugin("test-sandbox").unwrap();
    assert_eq!(summary.denied.workspace.as_deref(), Some("read-write"));
}

/// A one-request-at-a-time HTTP server on loopback that answers `hello` and records what it
/// was asked.
struct Loopback {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

fn loopback_server(delay: Duration) -> Loopback {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned();
            log.lock().unwrap().push(head);
            std::thread::sleep(delay);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello");
        }
    });
    Loopback { port, seen }
}

#[test]
fn http_reaches_only_granted_hosts_and_never_private_addresses_by_accident() {
    let server = loopback_server(Duration::ZERO);
    let policy = format!(
        "[plugins.test-sandbox]\nhosts = [{{ host = \"127.0.0.1\", port = {}, methods = [\"GET\"] }}, {{ host = \"*\", methods = [\"GET\"] }}]",
        server.port
    );
    let host = sandbox_host(&policy, config());
    let mut session = host.session();
    let url = format!("http://127.0.0.1:{}/ok", server.port);

    // The grant names 127.0.0.1 explicitly: allowed.
    let out = run(&mut session, "test_http", json!({ "method": "GET", "url": url })).unwrap();
    assert_eq!((out["status"].clone(), out["body"].clone()), (json!(200), json!("hello")));
    assert_eq!(server.seen.lock().unwrap().as_slice(), ["GET /ok HTTP/1.1"]);

    // A method not granted.
    let error = run(&mut session, "test_http", json!({ "method": "POST", "url": url, "body": "x" })).unwrap_err();
    assert!(error.contains("POST") && error.contains("gateway:"), "{error}");
    // Loopback through a name: `*` does not name it.
    let error =
        run(&mut session, "test_http", json!({ "method": "GET", "url": format!("http://localhost:{}/", server.port) }))
            .unwrap_err();
    assert!(error.contains("loopback"), "{error}");
    // Cloud metadata and a private address, reachable by `*` were they public: refused.
    for (url, what) in [("http://169.254.169.254/latest/meta-data/", "metadata"), ("http://10.1.2.3/", "private")] {
        let error = run(&mut session, "test_http", json!({ "method": "GET", "url": url })).unwrap_err();
        assert!(error.contains(what), "{url}: {error}");
    }
    // None of the refused requests reached the server.
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[test]
fn http_to_a_host_that_is_not_granted_is_refused() {
    let server = loopback_server(Duration::ZERO);
    // Only another host is granted; test-sandbox asks for `*`.
    let host =
        sandbox_host("[plugins.test-sandbox]\nhosts = [{ host = \"api.example.com\", methods = [\"GET\"] }]", config());
    let mut session = host.session();
    let error =
        run(&mut session, "test_http", json!({ "method": "GET", "url": format!("http://127.0.0.1:{}/", server.port) }))
            .unwrap_err();
    assert!(error.contains("not granted"), "{error}");
    // A plugin the policy does not mention gets no network at all.
    let host = sandbox_host("", config());
    let mut session = host.session();
    let error =
        run(&mut session, "test_http", json!({ "method": "GET", "url": format!("http://127.0.0.1:{}/", server.port) }))
            .unwrap_err();
    assert!(error.contains("not granted"), "{error}");
    assert!(server.seen.lock().unwrap().is_empty());
}

const SECRET_POLICY: &str = r#"
    [plugins.test-sandbox]
    config = { greeting = "Hello", unasked = "x" }
    secrets = { api_key = { env = "AGW_CAPS_TEST_SANDBOX_KEY" } }
    [plugins.test-peer]
    secrets = { api_key = { env = "AGW_CAPS_TEST_PEER_KEY" } }
"#;

/// Both secrets, set once for this test binary (tests here only read them).
fn set_secret_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: no other thread of this test binary reads or writes these variables
        // concurrently with this one-time initialisation... except `std::env::var` in other
        // tests, which the standard library synchronises on Unix.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("AGW_CAPS_TEST_SANDBOX_KEY", "sk-sandbox-0123456789");
            std::env::set_var("AGW_CAPS_TEST_PEER_KEY", "sk-peer-9876543210");
        }
    });
}

#[test]
fn config_and_secrets_reach_only_the_plugin_they_are_granted_to() {
    set_secret_env();
    let host = sandbox_host(SECRET_POLICY, config());
    let mut session = host.session();
    assert_eq!(run(&mut session, "test_config", json!({ "key": "greeting" })).unwrap()["result"], "Hello");
    // Granted but not requested, and requested but not granted: both unset.
    assert_eq!(run(&mut session, "test_config", json!({ "key": "unasked" })).unwrap()["result"], Value::Null);
    assert_eq!(run(&mut session, "test_secret", json!({ "key": "other" })).unwrap()["result"], Value::Null);

    // Each plugin reads its own `api_key`: the peer's value never reaches test-sandbox.
    let own = run(&mut session, "test_secret", json!({ "key": "api_key" })).unwrap();
    let peer = run(&mut session, "peer_secret", json!({ "key": "api_key" })).unwrap();
    // What the plugins returned is scrubbed on its way out: the value never reaches the ledger.
    assert_eq!(own["result"], "***");
    assert_eq!(peer["result"], "***");
    // test-hostile asked for nothing and gets nothing.
    let summary = host.plugin("test-sandbox").unwrap();
    assert_eq!(summary.granted.secrets, ["api_key"]);
    assert_eq!(summary.granted.config_keys, ["greeting"]);
    let shown = serde_json::to_string(&host.plugins()).unwrap();
    assert!(!shown.contains("sk-sandbox") && !shown.contains("sk-peer"), "{shown}");
}

#[test]
fn a_secret_a_plugin_logs_is_scrubbed_from_the_log() {
    set_secret_env();
    let host = sandbox_host(SECRET_POLICY, config());
    let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || CaptureWriter(writer.clone()))
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut session = host.session();
        run(&mut session, "test_log_secret", json!({ "key": "api_key" })).unwrap();
    });
    let text = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    assert!(text.contains("plugin log"), "{text}");
    assert!(text.contains("***"), "{text}");
    assert!(!text.contains("sk-sandbox-0123456789"), "{text}");
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_policy_sets_limits_per_plugin() {
    let policy = "[defaults]\nmemory_mib = 64\n[plugins.test-hostile]\nmemory_mib = 16\ndeadline_ms = 150";
    let host = sandbox_host(policy, config());
    let mut session = host.session();
    let error = run(&mut session, "test_hog", json!({ "mib": 32 })).unwrap_err();
    assert_eq!(error, "plugin 'test-hostile' ran out of memory (limit 16 MiB)");
    let error = run(&mut session, "test_spin", json!({})).unwrap_err();
    assert_eq!(error, "plugin 'test-hostile' exceeded its deadline (150ms)");
    // The other plugins keep the defaults.
    let granted = host.plugin("test-sandbox").unwrap().granted;
    assert_eq!((granted.memory_mib, granted.deadline_ms), (64, 2000));
}

#[test]
fn fuel_metering_reports_each_calls_cost_and_stops_a_spinner() {
    use agw_domain::NodeExecutor;
    let config = HostConfig { fuel: Some(50_000_000), ..config() };
    let host = sandbox_host("", config);
    let mut session = host.session();
    run(&mut session, "test_config", json!({ "key": "greeting" })).unwrap();
    let cost = session.last_fuel().unwrap();
    assert!(cost > 0 && cost < 50_000_000, "{cost}");
    let error = run(&mut session, "test_spin", json!({})).unwrap_err();
    assert_eq!(error, "plugin 'test-hostile' ran out of fuel (limit 50000000)");
    let provenance = session.provenance("test_config").unwrap();
    assert_eq!(provenance["name"], "test-sandbox");
    assert_eq!(provenance["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn waiting_on_a_granted_host_does_not_count_against_the_cpu_deadline() {
    let server = loopback_server(Duration::from_millis(600));
    let policy = "[plugins.test-sandbox]\ndeadline_ms = 200\nhosts = [{ host = \"127.0.0.1\", methods = [\"GET\"] }]";
    let host = sandbox_host(policy, config());
    let mut session = host.session();
    let url = format!("http://127.0.0.1:{}/slow", server.port);
    let out = run(&mut session, "test_http", json!({ "method": "GET", "url": url })).unwrap();
    assert_eq!(out["body"], "hello");
}
