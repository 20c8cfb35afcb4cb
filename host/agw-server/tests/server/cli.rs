//! The `abstractgateway` binary itself: refusal without a token, `config`, and the plugin
//! commands.

use std::process::Command;

fn gateway(data: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abstractgateway"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ABSTRACTGATEWAY_DATA_DIR", data)
        .env(
            "ABSTRACTGATEWAY_PLUGIN_CACHE_DIR",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"),
        )
        .env("RUST_LOG", "error");
    cmd
}

#[test]
fn serve_without_a_token_refuses_with_one_line() {
    let temp = tempfile::tempdir().unwrap();
    let output = gateway(temp.path()).args(["serve", "--port", "0"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no auth token configured") && stderr.contains("ABSTRACTGATEWAY_AUTH_TOKEN"), "{stderr}");
}

#[test]
fn config_prints_each_setting_with_its_origin_hides_tokens_and_warns_about_typos() {
    let temp = tempfile::tempdir().unwrap();
    let output = gateway(temp.path())
        .env("ABSTRACTGATEWAY_AUTH_TOKEN", "cli-s3cret-token")
        .env("ABSTRACTGATEWAY_TICK_WORKERS", "3")
        .env("ABSTRACTGATEWAY_TICK_WORKRS", "5")
        .env("RUST_LOG", "warn")
        .arg("config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), abstractgateway::config::SETTINGS.len(), "{stdout}");
    for expected in [
        format!("ABSTRACTGATEWAY_DATA_DIR = {} (environment)", temp.path().display()),
        "ABSTRACTGATEWAY_AUTH_TOKEN = *** (environment)".to_owned(),
        "ABSTRACTGATEWAY_AUTH_TOKENS = (none) (default)".to_owned(),
        "ABSTRACTGATEWAY_TICK_WORKERS = 3 (environment)".to_owned(),
        "ABSTRACTGATEWAY_TICK_MAX_STEPS = 100 (default)".to_owned(),
        "ABSTRACTGATEWAY_SECURITY = 1 (default)".to_owned(),
    ] {
        assert!(lines.contains(&expected.as_str()), "no line {expected:?} in\n{stdout}");
    }
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"), "{stdout}{stderr}");
    assert!(
        stderr.contains("ABSTRACTGATEWAY_TICK_WORKRS: unknown; did you mean ABSTRACTGATEWAY_TICK_WORKERS?"),
        "{stderr}"
    );
}

#[test]
fn config_refuses_a_bad_value_naming_the_variable() {
    let temp = tempfile::tempdir().unwrap();
    let output = gateway(temp.path()).env("ABSTRACTGATEWAY_MAX_SSE", "0").arg("config").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ABSTRACTGATEWAY_MAX_SSE must be at least 1"), "{stderr}");
}

#[test]
fn plugins_list_shows_first_party_and_directory_plugins_and_problems() {
    let temp = tempfile::tempdir().unwrap();
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(agw_firstparty::component_path("test-hostile"), plugins.join("test-hostile.wasm")).unwrap();
    std::fs::write(plugins.join("broken.wasm"), b"\0asm garbage").unwrap();
    let output = gateway(temp.path()).args(["plugins", "list", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = listing["plugins"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["std-nodes", "openai-compatible", "anthropic", "test-hostile"]);
    assert_eq!(listing["plugins"][0]["origin"], "first-party");
    assert_eq!(listing["problems"][0]["label"], "broken.wasm");

    let table = gateway(temp.path()).args(["plugins", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("std-nodes") && table.contains("NOT LOADED broken.wasm"), "{table}");
}

#[test]
fn plugins_list_and_inspect_show_request_grant_difference_and_signature() {
    let temp = tempfile::tempdir().unwrap();
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(agw_firstparty::component_path("test-sandbox"), plugins.join("test_sandbox.wasm")).unwrap();
    std::fs::write(
        plugins.join("test_sandbox.toml"),
        "workspace = \"read\"\nconfig = { greeting = \"hi\" }\nhosts = [{ host = \"api.example.com\", methods = [\"GET\"] }]",
    )
    .unwrap();
    let table = gateway(temp.path()).args(["plugins", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("requests: workspace read-write; hosts GET|POST *; config greeting; secrets api_key"),
        "{table}"
    );
    assert!(
        table.contains("granted:  workspace read; hosts GET api.example.com; config greeting; secrets -"),
        "{table}"
    );
    assert!(table.contains("denied:   workspace read-write; hosts POST *; config -; secrets api_key"), "{table}");
    assert!(table.contains("not signed"), "{table}");

    let output =
        gateway(temp.path()).args(["plugins", "inspect"]).arg(plugins.join("test_sandbox.wasm")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["granted"]["workspace"], "read");
    assert_eq!(summary["denied"]["secrets"], serde_json::json!(["api_key"]));
    assert_eq!(summary["signature"]["status"], "unsigned");
    assert_eq!(summary["sha256"].as_str().unwrap().len(), 64);

    // An invalid policy stops the gateway from starting, naming the file and the key.
    std::fs::write(plugins.join("plugins.toml"), "[plugins.test-sandbox]\nworkspace = \"all\"").unwrap();
    let output = gateway(temp.path()).args(["plugins", "list"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("plugins.toml") && stderr.contains("workspace"), "{stderr}");
}

#[test]
fn plugins_inspect_describes_a_component_or_says_why_not() {
    let temp = tempfile::tempdir().unwrap();
    let wasm = agw_firstparty::component_path("std-nodes");
    let output = gateway(temp.path()).args(["plugins", "inspect"]).arg(&wasm).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["name"], "std-nodes");
    assert_eq!(summary["worlds"], serde_json::json!(["node-executor"]));
    assert!(summary["nodes"].as_array().unwrap().iter().any(|n| n["node_type"] == "string_template"));

    let junk = temp.path().join("junk.wasm");
    std::fs::write(&junk, b"nope").unwrap();
    let output = gateway(temp.path()).args(["plugins", "inspect"]).arg(&junk).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("junk.wasm: not a WebAssembly component"));
}
