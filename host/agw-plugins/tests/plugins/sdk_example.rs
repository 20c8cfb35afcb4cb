//! The plugin-authoring guide's example (`sdk/examples/hello-node`), built exactly the way
//! `docs/plugin-authoring.md` says and loaded like a file dropped into the plugins directory.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use agw_plugins::PluginSource;
use common::{call, config, host};
use serde_json::{Value, json};

/// Builds the example with `cargo build --release --target wasm32-wasip2`. The target dir is
/// the one the plugins workspace uses, so the SDK's dependencies are compiled once for both.
fn build_example() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = root.join("sdk/examples/hello-node");
    let target_dir = root.join("target/wasm-plugins");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&example)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    // The test's own build settings are for the host target; never hand them to the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(
        output.status.success(),
        "building {} failed (is the target installed? `rustup target add wasm32-wasip2`):\n{}",
        example.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join("wasm32-wasip2/release/hello_node.wasm")
}

/// The guide shows the example's whole source and the build command the test uses.
#[test]
fn the_guide_shows_the_example_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guide = std::fs::read_to_string(root.join("docs/plugin-authoring.md")).unwrap();
    let source = std::fs::read_to_string(root.join("sdk/examples/hello-node/src/lib.rs")).unwrap();
    assert!(
        guide.contains(&format!("```rust\n{source}```")),
        "docs/plugin-authoring.md must show hello-node/src/lib.rs"
    );
    let llm = std::fs::read_to_string(root.join("sdk/examples/hello-llm/src/lib.rs")).unwrap();
    assert!(guide.contains(&format!("```rust\n{llm}```")), "docs/plugin-authoring.md must show hello-llm/src/lib.rs");
    assert!(llm.lines().count() < 60, "the LLM provider example stays under 60 lines");
    assert!(guide.contains("cargo build --release --target wasm32-wasip2\n"));
    assert!(guide.contains("crate-type = [\"cdylib\"]"));
}

#[test]
fn the_guide_example_builds_loads_and_greets() {
    let wasm = build_example();
    let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("read {}: {e}", wasm.display()));

    let host = host(config());
    let report = host.load(vec![PluginSource::file("hello_node.wasm", bytes)]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let plugins = host.plugins();
    let plugin = plugins.iter().find(|p| p.name == "hello-node").unwrap();
    assert_eq!(plugin.capabilities.config_keys, ["greeting"]);
    assert_eq!(plugin.nodes.iter().map(|n| n.node_type.as_str()).collect::<Vec<_>>(), ["greet"]);

    // No policy grants `greeting`, so the node falls back to its default.
    let mut session = host.session();
    let out = call(&mut session, "greet", json!({}), json!({ "name": "Ada" })).unwrap();
    assert_eq!(Value::Object(out), json!({ "result": "Hello, Ada!" }));

    let err = call(&mut session, "greet", json!({}), json!({ "name": 7 })).unwrap_err();
    assert!(err.message.contains("input 'name' must be a string"), "{}", err.message);
}
