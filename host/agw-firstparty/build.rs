//! Builds the `plugins/` workspace for wasm32-wasip2 so a plain `cargo build` of the gateway
//! ships its first-party plugins. Set `AGW_PREBUILT_PLUGINS=<dir>` to use components built
//! elsewhere instead.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Plugins embedded in the binary: (plugin name, file cargo writes).
const EMBEDDED: &[(&str, &str)] = &[
    ("std-nodes", "std_nodes.wasm"),
    ("openai-compatible", "openai_compatible.wasm"),
    ("anthropic", "anthropic.wasm"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..").canonicalize().expect("workspace root");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    for watched in ["plugins/Cargo.toml", "plugins/Cargo.lock", "sdk/Cargo.toml", "sdk/src", "sdk/llm-bindings", "wit"]
    {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for member in std::fs::read_dir(root.join("plugins")).expect("plugins/ exists").flatten() {
        let src = member.path().join("src");
        if src.is_dir() {
            println!("cargo:rerun-if-changed={}", src.display());
            println!("cargo:rerun-if-changed={}", member.path().join("Cargo.toml").display());
        }
    }
    println!("cargo:rerun-if-env-changed=AGW_PREBUILT_PLUGINS");

    let wasm_dir = match env::var_os("AGW_PREBUILT_PLUGINS") {
        Some(dir) => PathBuf::from(dir),
        None => build_plugins(&root),
    };

    let mut code =
        String::from("/// First-party plugins shipped inside the binary.\npub const EMBEDDED: &[FirstParty] = &[\n");
    for (name, file) in EMBEDDED {
        let path = wasm_dir.join(file);
        assert!(path.is_file(), "{} was not built", path.display());
        code.push_str(&format!(
            "    FirstParty {{ name: {name:?}, wasm: include_bytes!({:?}) }},\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    code.push_str(&format!(
        "/// Where the plugins workspace's components (test-only ones included) were built.\npub const COMPONENTS_DIR: &str = {:?};\n",
        wasm_dir.display().to_string()
    ));
    std::fs::write(out_dir.join("firstparty.rs"), code).expect("write firstparty.rs");
}

fn build_plugins(root: &Path) -> PathBuf {
    let target_dir = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let target_dir = target_dir.join("wasm-plugins");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root.join("plugins"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    // The outer build's flags are for the host target; never hand them to the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the plugins workspace");
    assert!(
        status.success(),
        "building plugins/ for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    target_dir.join("wasm32-wasip2/release")
}
