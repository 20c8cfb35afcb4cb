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
    let bundle = Bundle::from_zip(&packed, &BundleLimits::default()).expect("read");
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
    let bundle = Bundle::from_files(files(raw.to_vec()), &BundleLimits::default()).expect("camelCase manifest");
    assert_eq!(bundle.bundle_ref(), "cc@0.0.0");
}

#[test]
fn zip_slip_entry_is_refused() {
    let zip = raw_zip(&[("manifest.json", &manifest("")), ("../evil.json", b"{}")]);
    let err = Bundle::from_zip(&zip, &BundleLimits::default()).unwrap_err();
    assert_eq!(err, BundleError::UnsafePath("../evil.json".into()));
    assert!(err.to_string().contains("../evil.json"));
}

#[test]
fn absolute_entry_is_refused() {
    let zip = raw_zip(&[("/etc/cron.d/x", b"boom"), ("manifest.json", &manifest(""))]);
    assert_eq!(
        Bundle::from_zip(&zip, &BundleLimits::default()).unwrap_err(),
        BundleError::UnsafePath("/etc/cron.d/x".into())
    );
}

#[test]
fn manifest_flow_path_escaping_the_bundle_is_refused() {
    let raw = br#"{"bundle_format_version":"1","bundle_id":"x","entrypoints":[{"flow_id":"main"}],
                   "flows":{"main":"../../etc/passwd"}}"#;
    let err = Bundle::from_files(files(raw.to_vec()), &BundleLimits::default()).unwrap_err();
    assert_eq!(err, BundleError::UnsafePath("../../etc/passwd".into()));
}

#[test]
fn zip_bomb_is_stopped_by_real_size() {
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let zip = raw_zip(&[("manifest.json", &manifest("")), ("assets/zeros.bin", &zeros)]);
    assert!(zip.len() < 64 * 1024, "the bomb must compress well");
    let limits = BundleLimits { max_entries: 10, max_total_bytes: 1024 * 1024, ..BundleLimits::default() };
    assert_eq!(Bundle::from_zip(&zip, &limits).unwrap_err(), BundleError::TooLarge { limit: 1024 * 1024 });
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..20).map(|i| format!("assets/{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let limits = BundleLimits { max_entries: 10, max_total_bytes: 1024, ..BundleLimits::default() };
    assert_eq!(Bundle::from_zip(&raw_zip(&entries), &limits).unwrap_err(), BundleError::TooManyEntries { limit: 10 });
}

#[test]
fn not_a_zip_is_named() {
    let err = Bundle::from_zip(b"this is text", &BundleLimits::default()).unwrap_err();
    assert!(matches!(err, BundleError::NotAZip(_)), "{err:?}");
}

#[test]
fn missing_manifest_is_named() {
    let zip = raw_zip(&[("flows/main.json", b"{}")]);
    assert_eq!(Bundle::from_zip(&zip, &BundleLimits::default()).unwrap_err(), BundleError::MissingManifest);
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
        let err = Bundle::from_files(files(raw.as_bytes().to_vec()), &BundleLimits::default()).unwrap_err();
        assert!(err.to_string().contains(expected), "{raw}: got '{err}', wanted '{expected}'");
    }
}

#[test]
fn missing_flow_file_is_named() {
    let mut files = files(manifest(""));
    files.remove("flows/main.json");
    assert_eq!(
        Bundle::from_files(files, &BundleLimits::default()).unwrap_err(),
        BundleError::MissingFlowFile { flow_id: "main".into(), path: "flows/main.json".into() }
    );
}

#[test]
fn flow_that_is_not_json_is_named() {
    let mut files = files(manifest(""));
    files.insert("flows/main.json".into(), b"{oops".to_vec());
    let err = Bundle::from_files(files, &BundleLimits::default()).unwrap_err();
    assert!(matches!(&err, BundleError::InvalidFlow { flow_id, .. } if flow_id == "main"), "{err:?}");
}

/// A flow file with `nodes` nodes (each with the given `data`) and `edges` edges.
fn flow_with(nodes: usize, edges: usize, data: &str) -> Vec<u8> {
    let nodes: Vec<String> = (0..nodes).map(|i| format!(r#"{{"id":"n{i}","type":"add","data":{data}}}"#)).collect();
    let edges: Vec<String> = (0..edges)
        .map(|i| format!(r#"{{"source":"n0","sourceHandle":"result","target":"n{i}","targetHandle":"a"}}"#))
        .collect();
    format!(r#"{{"id":"main","nodes":[{}],"edges":[{}]}}"#, nodes.join(","), edges.join(",")).into_bytes()
}

fn with_flow(flow: Vec<u8>) -> BTreeMap<String, Vec<u8>> {
    let mut files = files(manifest(""));
    files.insert("flows/main.json".into(), flow);
    files
}

fn refusal(files: BTreeMap<String, Vec<u8>>, limits: &BundleLimits) -> String {
    Bundle::from_files(files, limits).map(|b| b.bundle_ref()).unwrap_err().to_string()
}

#[test]
fn flows_over_the_node_limit_are_refused_naming_it() {
    let limits = BundleLimits { max_flow_nodes: 100, ..BundleLimits::default() };
    assert_eq!(
        refusal(with_flow(flow_with(101, 0, "{}")), &limits),
        "flow 'main' has 101 nodes; the limit is 100 (ABSTRACTGATEWAY_MAX_FLOW_NODES)"
    );
    Bundle::from_files(with_flow(flow_with(100, 0, "{}")), &limits).expect("at the limit");

    // The default takes a 10,000-node flow and refuses the issue's 100,000 nodes.
    let defaults = BundleLimits::default();
    Bundle::from_files(with_flow(flow_with(10_000, 0, "{}")), &defaults).expect("10,000 nodes");
    assert_eq!(
        refusal(with_flow(flow_with(100_000, 0, "{}")), &defaults),
        "flow 'main' has 100000 nodes; the limit is 10000 (ABSTRACTGATEWAY_MAX_FLOW_NODES)"
    );
}

#[test]
fn flows_over_the_edge_limit_are_refused_naming_it() {
    let limits = BundleLimits { max_flow_edges: 10, ..BundleLimits::default() };
    assert_eq!(
        refusal(with_flow(flow_with(11, 11, "{}")), &limits),
        "flow 'main' has 11 edges; the limit is 10 (ABSTRACTGATEWAY_MAX_FLOW_EDGES)"
    );
    Bundle::from_files(with_flow(flow_with(11, 10, "{}")), &limits).expect("at the limit");
}

#[test]
fn node_data_over_the_limit_is_refused_naming_the_node() {
    let limits = BundleLimits { max_node_bytes: 1024, ..BundleLimits::default() };
    let big = format!(r#"{{"pinDefaults":{{"a":"{}"}}}}"#, "x".repeat(1024));
    let err = refusal(with_flow(flow_with(2, 0, &big)), &limits);
    assert_eq!(
        err,
        "node 'n0' of flow 'main' has 1048 bytes of data (pins, pin defaults and config); the limit is 1024 \
         (ABSTRACTGATEWAY_MAX_NODE_BYTES)"
    );
    let fits = format!(r#"{{"pinDefaults":{{"a":"{}"}}}}"#, "x".repeat(1000));
    Bundle::from_files(with_flow(flow_with(2, 0, &fits)), &limits).expect("under the limit");
}

#[test]
fn too_many_flows_are_refused_naming_the_limit() {
    let ids: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
    let flows: Vec<String> = ids.iter().map(|id| format!(r#""{id}":"flows/main.json""#)).collect();
    let raw = format!(
        r#"{{"bundle_format_version":"1","bundle_id":"many","entrypoints":[{{"flow_id":"f0"}}],"flows":{{{}}}}}"#,
        flows.join(",")
    );
    let limits = BundleLimits { max_flows: 4, ..BundleLimits::default() };
    assert_eq!(
        refusal(files(raw.into_bytes()), &limits),
        "bundle has 5 flows; the limit is 4 (ABSTRACTGATEWAY_MAX_BUNDLE_FLOWS)"
    );
}

#[test]
fn json_bytes_over_the_limit_are_refused_before_parsing() {
    let flow = flow_with(50, 0, "{}");
    let limits = BundleLimits { max_json_bytes: 1000, ..BundleLimits::default() };
    let err = refusal(with_flow(flow), &limits);
    assert!(
        err.starts_with("bundle (at 'flows/main.json') has ")
            && err.ends_with(
                "bytes of manifest and flow JSON; the limit is 1000 (ABSTRACTGATEWAY_MAX_BUNDLE_JSON_BYTES)"
            ),
        "{err}"
    );
}

#[test]
fn deep_json_is_refused_naming_the_depth() {
    let deep = format!(r#"{{"id":"main","nodes":[],"x":{}1{}}}"#, "[".repeat(70), "]".repeat(70));
    assert_eq!(
        refusal(with_flow(deep.into_bytes()), &BundleLimits::default()),
        "'flows/main.json' has 71 levels of JSON nesting; the limit is 64 (ABSTRACTGATEWAY_MAX_JSON_DEPTH)"
    );
    // Brackets inside strings are text, not nesting.
    let text = format!(r#"{{"id":"main","nodes":[],"name":"{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
    Bundle::from_files(with_flow(text.into_bytes()), &BundleLimits::default()).expect("brackets in a string");
}

#[test]
fn directory_bundles_are_held_to_the_archive_limits() {
    let limits = BundleLimits { max_entries: 1, ..BundleLimits::default() };
    assert_eq!(refusal(files(manifest("")), &limits), BundleError::TooManyEntries { limit: 1 }.to_string());
    let limits = BundleLimits { max_total_bytes: 100, ..BundleLimits::default() };
    assert_eq!(refusal(files(manifest("")), &limits), BundleError::TooLarge { limit: 100 }.to_string());
}
