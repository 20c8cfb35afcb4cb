//! The committed sample bundles are exactly what `abstractgateway pack` makes of their
//! sources, and they are the ones the binary embeds.

use std::path::Path;

#[test]
fn committed_flows_match_their_sources() {
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows");
    let mut sources: Vec<_> =
        std::fs::read_dir(flows.join("src")).expect("flows/src").flatten().map(|e| e.path()).collect();
    sources.sort();
    assert!(sources.len() >= 3, "pure math, a loop and a branch at least");
    for source in sources {
        let (bundle, bytes) = abstractgateway::pack_dir(&source, &Default::default()).expect("valid bundle");
        let name = format!("{}.flow", bundle.bundle_ref());
        let committed = std::fs::read(flows.join(&name)).unwrap_or_default();
        assert!(
            committed == bytes,
            "flows/{name} is stale: run `abstractgateway pack {} --out flows`",
            source.display()
        );
        let embedded = abstractgateway::samples::SAMPLES.iter().find(|(n, _)| *n == name);
        assert!(embedded.is_some_and(|(_, b)| *b == bytes.as_slice()), "{name} is not embedded in samples.rs");
    }
}
