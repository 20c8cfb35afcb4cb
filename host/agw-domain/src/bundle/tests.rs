use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use super::*;

fn manifest(extra: &str) -> Vec<u8> {
    format!(
        r#"{{"bundle_format_version":"1","bundle_id":"demo","bundle_version":"1.2.0",
            "entrypoints":[{{"flow_id":"main","name":"main"}}],
            "flows":{{"main":"flows/main.json"}}{extra}}}"#
    )
    .into_bytes()
}

fn files(manifest: Vec<u8>) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("manifest.json".to_owned(), manifest),
        ("flows/main.json".to_owned(), br#"{"id":"main","nodes":[],"edges":[]}"#.to_vec()),
    ])
}

/// A zip written entry by entry, so tests can put in names the packer would refuse.
fn raw_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).expect("start entry");
        writer.write_all(data).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

#[test]
fn packed_bundle_round_trips() {
    let packed = pack_zip(&files(manifest(""))).expect("pack");
    let bundle = Bundle::from_zip(&packed, &ZipLimits::default()).expect("read");
    assert_eq!(bundle.bundle_ref(), "demo@1.2.0");
    assert_eq!(bundle.default_flow_id(), Some("main"));
    assert_eq!(bundle.flows["main"]["id"], "main");
    assert_eq!(bundle.sha256.len(), 64);
}

#[test]
fn packing_is_deterministic() {
    let a = pack_zip(&files(manifest(""))).expect("pack");
    let b = pack_zip(&files(manifest(""))).expect("pack");
    assert_eq!(a, b);
}

#[test]
fn camel_case_manifest_keys_are_accepted() {
    let raw = br#"{"bundleFormatVersion":"1","bundleId":"cc","entrypoints":[{"flowId":"main"}],
                   "defaultEntrypoint":"main","flows":{"main":"flows/main.json"}}"#;
    let bundle = Bundle::from_files(files(raw.to_vec())).expect("camelCase manifest");
    assert_eq!(bundle.bundle_ref(), "cc@0.0.0");
}

#[test]
fn zip_slip_entry_is_refused() {
    let zip = raw_zip(&[("manifest.json", &manifest("")), ("../evil.json", b"{}")]);
    let err = Bundle::from_zip(&zip, &ZipLimits::default()).unwrap_err();
    assert_eq!(err, BundleError::UnsafePath("../evil.json".into()));
    assert!(err.to_string().contains("../evil.json"));
}

#[test]
fn absolute_entry_is_refused() {
    let zip = raw_zip(&[("/etc/cron.d/x", b"boom"), ("manifest.json", &manifest(""))]);
    assert_eq!(
        Bundle::from_zip(&zip, &ZipLimits::default()).unwrap_err(),
        BundleError::UnsafePath("/etc/cron.d/x".into())
    );
}

#[test]
fn manifest_flow_path_escaping_the_bundle_is_refused() {
    let raw = br#"{"bundle_format_version":"1","bundle_id":"x","entrypoints":[{"flow_id":"main"}],
                   "flows":{"main":"../../etc/passwd"}}"#;
    let err = Bundle::from_files(files(raw.to_vec())).unwrap_err();
    assert_eq!(err, BundleError::UnsafePath("../../etc/passwd".into()));
}

#[test]
fn zip_bomb_is_stopped_by_real_size() {
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let zip = raw_zip(&[("manifest.json", &manifest("")), ("assets/zeros.bin", &zeros)]);
    assert!(zip.len() < 64 * 1024, "the bomb must compress well");
    let limits = ZipLimits { max_entries: 10, max_total_bytes: 1024 * 1024 };
    assert_eq!(Bundle::from_zip(&zip, &limits).unwrap_err(), BundleError::TooLarge { limit: 1024 * 1024 });
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..20).map(|i| format!("assets/{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let limits = ZipLimits { max_entries: 10, max_total_bytes: 1024 };
    assert_eq!(Bundle::from_zip(&raw_zip(&entries), &limits).unwrap_err(), BundleError::TooManyEntries { limit: 10 });
}

#[test]
fn not_a_zip_is_named() {
    let err = Bundle::from_zip(b"this is text", &ZipLimits::default()).unwrap_err();
    assert!(matches!(err, BundleError::NotAZip(_)), "{err:?}");
}

#[test]
fn missing_manifest_is_named() {
    let zip = raw_zip(&[("flows/main.json", b"{}")]);
    assert_eq!(Bundle::from_zip(&zip, &ZipLimits::default()).unwrap_err(), BundleError::MissingManifest);
}

#[test]
fn bad_manifests_say_why() {
    let cases: &[(&str, &str)] = &[
        (r#"{"bundle_format_version":"2","bundle_id":"x","entrypoints":[]}"#, "bundle_format_version '2'"),
        (r#"{"bundle_format_version":"1","bundle_id":"x","entrypoints":[]}"#, "entrypoints must not be empty"),
        (
            r#"{"bundle_format_version":"1","bundle_id":"../x","entrypoints":[{"flow_id":"a"}],"flows":{"a":"a.json"}}"#,
            "bundle_id '../x'",
        ),
        (
            r#"{"bundle_format_version":"1","bundle_id":"x","entrypoints":[{"flow_id":"a"}],"flows":{}}"#,
            "entrypoint 'a' has no file",
        ),
        (
            r#"{"bundle_format_version":"1","bundle_id":"x","entrypoints":[{"flow_id":"main"}],"default_entrypoint":"nope","flows":{"main":"flows/main.json"}}"#,
            "default_entrypoint 'nope'",
        ),
        ("not json", "manifest.json is invalid"),
    ];
    for (raw, expected) in cases {
        let err = Bundle::from_files(files(raw.as_bytes().to_vec())).unwrap_err();
        assert!(err.to_string().contains(expected), "{raw}: got '{err}', wanted '{expected}'");
    }
}

#[test]
fn missing_flow_file_is_named() {
    let mut files = files(manifest(""));
    files.remove("flows/main.json");
    assert_eq!(
        Bundle::from_files(files).unwrap_err(),
        BundleError::MissingFlowFile { flow_id: "main".into(), path: "flows/main.json".into() }
    );
}

#[test]
fn flow_that_is_not_json_is_named() {
    let mut files = files(manifest(""));
    files.insert("flows/main.json".into(), b"{oops".to_vec());
    let err = Bundle::from_files(files).unwrap_err();
    assert!(matches!(&err, BundleError::InvalidFlow { flow_id, .. } if flow_id == "main"), "{err:?}");
}
