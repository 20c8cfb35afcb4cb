//! The first-party plugin components, built from `plugins/` by this crate's build script and
//! embedded in the gateway binary.

use std::path::PathBuf;

/// One embedded plugin.
#[derive(Debug, Clone, Copy)]
pub struct FirstParty {
    pub name: &'static str,
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/firstparty.rs"));

/// Path of a component built from the plugins workspace, test-only ones included
/// (`component_path("test-hostile")`).
pub fn component_path(crate_name: &str) -> PathBuf {
    PathBuf::from(COMPONENTS_DIR).join(format!("{}.wasm", crate_name.replace('-', "_")))
}
