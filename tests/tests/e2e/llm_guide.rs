//! The guide's LLM provider (`sdk/examples/hello-llm`), built with the guide's command,
//! dropped into a serving gateway's plugins directory and used by a flow.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Options, TestGateway, repo, standard_flows};
use serde_json::json;

/// `cargo build --release --target wasm32-wasip2` in the example's folder, as the guide says.
fn build_hello_llm() -> PathBuf {
    let example = repo().join("sdk/examples/hello-llm");
    let target_dir = repo().join("target/wasm-plugins");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&example)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"]
    {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("run cargo");
    assert!(output.status.success(), "building hello-llm failed:\n{}", String::from_utf8_lossy(&output.stderr));
    target_dir.join("wasm32-wasip2/release/hello_llm.wasm")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_s_llm_provider_serves_a_flow_once_dropped_in() {
    let wasm = build_hello_llm();
    let fake = agw_fake_provider::FakeProvider::start().await.expect("fake provider");
    let temp = tempfile::tempdir().expect("tempdir");
    let (flows, plugins) = (temp.path().join("flows"), temp.path().join("plugins"));
    standard_flows(&flows);
    common::llm_bundle(&flows, "hello-llm-flow", "hello-llm");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    let port = fake.base_url().split(':').nth(2).and_then(|p| p.split('/').next()).unwrap_or_default().to_owned();
    let policy = format!(
        "[plugins.hello-llm]\nconfig = {{ HELLO_LLM_BASE_URL = \"{}\" }}\nhosts = [{{ host = \"127.0.0.1\", port = {port}, methods = [\"GET\", \"POST\"] }}]\n",
        fake.base_url()
    );
    std::fs::write(plugins.join("plugins.toml"), policy).expect("policy");
    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins.clone());
    let gw = TestGateway::start(&temp.path().join("data"), options).await;

    // Before the plugin is there, the flow's provider is named as missing.
    let run_id = gw
        .start_run(json!({"bundle_id": "hello-llm-flow", "input_data": {"prompt": "hi", "model": "fake-chat"}}))
        .await;
    let run = gw.wait_terminal(&run_id).await;
    assert!(
        run["error"].as_str().unwrap_or_default().contains("no loaded plugin serves the LLM provider 'hello-llm'"),
        "{run}"
    );

    // Dropped in while serving: the watcher loads it.
    std::fs::copy(&wasm, plugins.join("hello_llm.wasm")).expect("drop the plugin in");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !gw.gateway.plugins.llm_providers().iter().any(|(_, p)| p.id == "hello-llm" && p.configured) {
        assert!(Instant::now() < deadline, "the plugin never loaded: {:?}", gw.gateway.plugins.problems());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run_id = gw
        .start_run(json!({"bundle_id": "hello-llm-flow", "input_data": {"prompt": "hi", "model": "fake-chat"}}))
        .await;
    let run = gw.wait_terminal(&run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    let response = run["output"]["response"].as_str().unwrap_or_default();
    assert!(response.starts_with("Fake answer to: <runtime_metadata>") && response.ends_with("\nhi"), "{response}");
    gw.stop().await;
}
