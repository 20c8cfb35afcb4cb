//! Opt-in, fail-closed signatures: with a signature required, only components signed by a
//! trusted key load; first-party plugins are held to the same rule.

#![allow(clippy::unwrap_used)]

use crate::common;

use agw_plugins::signing::{self, SignatureStatus, TrustedKeys};
use agw_plugins::{HostConfig, PluginSource};
use common::{config, host};

fn component(crate_name: &str) -> Vec<u8> {
    std::fs::read(agw_firstparty::component_path(crate_name)).unwrap()
}

#[test]
fn a_required_signature_refuses_unsigned_and_wrongly_signed_plugins_and_accepts_a_signed_one() {
    let (trusted_secret, trusted_public) = signing::keygen().unwrap();
    let (stranger_secret, _) = signing::keygen().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, bytes: &[u8], key: Option<&str>| {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        if let Some(key) = key {
            std::fs::write(dir.path().join(format!("{name}.sig")), signing::sign(key, bytes).unwrap()).unwrap();
        }
    };
    put("test_sandbox.wasm", &component("test-sandbox"), Some(&trusted_secret));
    put("test_peer.wasm", &component("test-peer"), None);
    put("test_hostile.wasm", &component("test-hostile"), Some(&stranger_secret));
    // Signed, then changed after signing.
    let mut tampered = component("test-bad-describe");
    tampered.extend_from_slice(&[0, 2, 1, b'x']);
    std::fs::write(dir.path().join("tampered.wasm"), &tampered).unwrap();
    std::fs::write(
        dir.path().join("tampered.wasm.sig"),
        signing::sign(&trusted_secret, &component("test-bad-describe")).unwrap(),
    )
    .unwrap();

    let config =
        HostConfig { trusted_keys: TrustedKeys::parse(&trusted_public).unwrap(), require_signature: true, ..config() };
    let std_nodes = agw_firstparty::EMBEDDED.iter().find(|p| p.name == "std-nodes").unwrap();
    let first_party = [PluginSource::first_party(std_nodes.name, std_nodes.wasm)];
    let host = host(config.clone());
    let report = host.load_dir(dir.path(), &first_party).unwrap();

    let loaded: Vec<String> = host.plugins().into_iter().map(|p| p.name).collect();
    assert_eq!(loaded, ["test-sandbox"]);
    assert_eq!(host.plugin("test-sandbox").unwrap().signature, SignatureStatus::Valid { key: trusted_public.clone() });
    let refused = |label: &str| common::problem(&report.load, label);
    assert!(
        refused("test_peer.wasm").contains("a trusted signature is required and not signed"),
        "{}",
        refused("test_peer.wasm")
    );
    assert!(
        refused("test_hostile.wasm").contains("not in ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS"),
        "{}",
        refused("test_hostile.wasm")
    );
    assert!(refused("tampered.wasm").contains("signature is for sha256"), "{}", refused("tampered.wasm"));
    assert!(refused("std-nodes").contains("not signed"), "{}", refused("std-nodes"));

    // The operator signs the first-party plugin; its signature sits in the plugins directory.
    std::fs::write(dir.path().join("std-nodes.wasm.sig"), signing::sign(&trusted_secret, std_nodes.wasm).unwrap())
        .unwrap();
    host.load_dir(dir.path(), &first_party).unwrap();
    assert!(host.plugin("std-nodes").is_some());

    // Without the requirement everything loads, and each plugin's status is shown.
    let open = common::host(HostConfig { require_signature: false, ..config });
    let report = open.load_dir(dir.path(), &first_party).unwrap();
    let statuses: Vec<(String, &'static str)> = open
        .plugins()
        .into_iter()
        .map(|p| {
            let kind = match p.signature {
                SignatureStatus::Valid { .. } => "valid",
                SignatureStatus::Unsigned => "unsigned",
                SignatureStatus::UnknownKey { .. } => "unknown-key",
                SignatureStatus::Invalid { .. } => "invalid",
            };
            (p.name, kind)
        })
        .collect();
    assert!(statuses.contains(&("test-peer".to_owned(), "unsigned")), "{statuses:?}");
    assert!(statuses.contains(&("test-hostile".to_owned(), "unknown-key")), "{statuses:?}");
    assert!(statuses.contains(&("test-sandbox".to_owned(), "valid")), "{statuses:?}");
    // test-bad-describe fails for its own reasons, not its signature.
    assert!(!common::problem(&report.load, "tampered.wasm").contains("signature"));
}
