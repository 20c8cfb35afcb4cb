//! `abstractgateway plugins keygen|sign|verify` and the signature settings, through the real binary.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gateway(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abstractgateway"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ABSTRACTGATEWAY_DATA_DIR", data)
        .env("ABSTRACTGATEWAY_PLUGIN_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("signing-plugin-cache"))
        .env("RUST_LOG", "error");
    cmd
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `plugins keygen --out <dir>/<name>`: the public key line it prints.
fn keygen(dir: &Path, name: &str) -> String {
    let output = gateway(dir).args(["plugins", "keygen", "--out"]).arg(dir.join(name)).output().expect("run keygen");
    assert!(output.status.success(), "{}", stderr(&output));
    let public = stdout(&output).trim().to_owned();
    assert!(public.starts_with("ed25519:") && !public.contains('\n'), "{public}");
    public
}

/// A copy of a real component in `dir`.
fn component(dir: &Path) -> PathBuf {
    let wasm = dir.join("std-nodes.wasm");
    std::fs::copy(agw_firstparty::component_path("std-nodes"), &wasm).expect("copy a component");
    wasm
}

fn verify(dir: &Path, wasm: &Path, trusted_keys: &str) -> Output {
    gateway(dir)
        .args(["plugins", "verify"])
        .arg(wasm)
        .args(["--trusted-keys", trusted_keys])
        .output()
        .expect("run verify")
}

#[test]
fn a_signed_component_verifies_with_its_key() {
    let temp = tempfile::tempdir().unwrap();
    let public = keygen(temp.path(), "signing.key");
    let wasm = component(temp.path());
    let output = gateway(temp.path())
        .args(["plugins", "sign", "--key"])
        .arg(temp.path().join("signing.key"))
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sig = temp.path().join("std-nodes.wasm.sig");
    assert_eq!(stdout(&output).trim(), sig.display().to_string());
    assert!(std::fs::read_to_string(&sig).unwrap().contains(&format!("key {public}")));

    let (_, other) = agw_plugins::signing::keygen().unwrap();
    let output = verify(temp.path(), &wasm, &format!("{other}, {public}"));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let digest = agw_plugins::signing::sha256_hex(&std::fs::read(&wasm).unwrap());
    assert!(text.contains(&format!("sha256:{digest}")), "{text}");
    assert!(text.contains(&format!("signed by trusted key {public}")), "{text}");

    // The environment variable is the default list.
    let output = gateway(temp.path())
        .args(["plugins", "verify"])
        .arg(&wasm)
        .env("ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS", &public)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_signature_by_another_key_is_unknown_and_fails() {
    let temp = tempfile::tempdir().unwrap();
    let public = keygen(temp.path(), "signing.key");
    let other = keygen(temp.path(), "other.key");
    let wasm = component(temp.path());
    let signed = gateway(temp.path())
        .args(["plugins", "sign", "--key"])
        .arg(temp.path().join("signing.key"))
        .arg(&wasm)
        .output();
    assert!(signed.unwrap().status.success());

    let output = verify(temp.path(), &wasm, &other);
    assert!(!output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains(&format!("signed by {public}, which is not in ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS")),
        "{text}"
    );
    assert!(stderr(&output).contains("is not trusted"), "{}", stderr(&output));

    // No trusted key at all: the same, with a hint.
    let output = verify(temp.path(), &wasm, "");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--trusted-keys"), "{}", stderr(&output));
}

#[test]
fn a_tampered_component_is_invalid_and_fails() {
    let temp = tempfile::tempdir().unwrap();
    let public = keygen(temp.path(), "signing.key");
    let wasm = component(temp.path());
    let signed = gateway(temp.path())
        .args(["plugins", "sign", "--key"])
        .arg(temp.path().join("signing.key"))
        .arg(&wasm)
        .output();
    assert!(signed.unwrap().status.success());
    let mut bytes = std::fs::read(&wasm).unwrap();
    let before = agw_plugins::signing::sha256_hex(&bytes);
    bytes.extend_from_slice(b"\0\x05extra");
    std::fs::write(&wasm, &bytes).unwrap();

    let output = verify(temp.path(), &wasm, &public);
    assert!(!output.status.success());
    let text = stdout(&output);
    let after = agw_plugins::signing::sha256_hex(&bytes);
    assert!(text.contains(&format!("bad signature: signature is for sha256 {before}, the file is {after}")), "{text}");

    // Unsigned and garbage signatures fail too.
    std::fs::remove_file(temp.path().join("std-nodes.wasm.sig")).unwrap();
    let output = verify(temp.path(), &wasm, &public);
    assert!(!output.status.success() && stdout(&output).contains("not signed"), "{}", stdout(&output));
    std::fs::write(temp.path().join("std-nodes.wasm.sig"), b"\xff\xfe garbage").unwrap();
    let output = verify(temp.path(), &wasm, &public);
    assert!(!output.status.success() && stdout(&output).contains("malformed"), "{}", stdout(&output));
}

#[test]
fn keygen_writes_a_private_file_and_never_overwrites() {
    let temp = tempfile::tempdir().unwrap();
    let public = keygen(temp.path(), "signing.key");
    let key = temp.path().join("signing.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let before = std::fs::read_to_string(&key).unwrap();
    assert!(before.contains("ed25519-secret:") && before.contains(&public));

    let output = gateway(temp.path()).args(["plugins", "keygen", "--out"]).arg(&key).output().unwrap();
    assert!(!output.status.success());
    assert!(stdout(&output).is_empty(), "no new public key for a key that was not written");
    assert!(stderr(&output).contains("never overwritten"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), before);
}

#[test]
fn signature_settings_are_checked_when_the_config_loads() {
    let temp = tempfile::tempdir().unwrap();
    let public = keygen(temp.path(), "signing.key");
    let list = |env: &[(&str, &str)]| {
        let mut cmd = gateway(temp.path());
        cmd.args(["plugins", "list", "--json"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    let output = list(&[("ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS", &format!("{public},ed25519:nope"))]);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(error.contains("ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS") && error.contains("#2"), "{error}");

    let output = list(&[("ABSTRACTGATEWAY_PLUGIN_REQUIRE_SIGNATURE", "1")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("requires ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS"), "{}", stderr(&output));
}
