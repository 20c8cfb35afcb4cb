//! `.flow` bundles: a manifest plus VisualFlow JSON files, read from a zip or from files.
//!
//! A bundle is untrusted input. Every path is checked before use, archive sizes and entry
//! counts are capped while reading (not trusted from the headers), and every failure names
//! the problem.

mod limits;
mod manifest;
mod zipped;

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub use limits::BundleLimits;
pub use manifest::{Entrypoint, Manifest};
pub use zipped::pack_zip;

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    #[error("not a zip archive: {0}")]
    NotAZip(String),
    #[error("unsafe path in bundle: '{0}' (absolute paths and '..' are not allowed)")]
    UnsafePath(String),
    #[error("bundle has more than {limit} entries (ABSTRACTGATEWAY_MAX_BUNDLE_ENTRIES)")]
    TooManyEntries { limit: usize },
    #[error("bundle expands past {limit} bytes (zip bomb?) (ABSTRACTGATEWAY_MAX_BUNDLE_EXPANDED_BYTES)")]
    TooLarge { limit: u64 },
    /// A cap of [`BundleLimits`]: what is over it, by how much, and the variable raising it.
    #[error("{subject} has {value} {unit}; the limit is {limit} ({var})")]
    OverLimit { subject: String, value: u64, unit: &'static str, limit: u64, var: &'static str },
    #[error("manifest.json is missing")]
    MissingManifest,
    #[error("manifest.json is invalid: {0}")]
    InvalidManifest(String),
    #[error("flow '{flow_id}' names file '{path}', which is not in the bundle")]
    MissingFlowFile { flow_id: String, path: String },
    #[error("flow '{flow_id}' is not valid VisualFlow JSON: {reason}")]
    InvalidFlow { flow_id: String, reason: String },
}

/// A validated bundle: its manifest and the VisualFlow JSON of every flow it lists.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    /// flow id → VisualFlow JSON, as stored in the bundle.
    pub flows: BTreeMap<String, Value>,
    /// sha256 of the packed bytes (or of the file contents for a directory bundle).
    pub sha256: String,
}

impl Bundle {
    /// Reads a packed `.flow` (zip) bundle.
    pub fn from_zip(bytes: &[u8], limits: &BundleLimits) -> Result<Self, BundleError> {
        let files = zipped::read_entries(bytes, limits)?;
        Self::from_files_with_digest(files, hex::encode(Sha256::digest(bytes)), limits)
    }

    /// Builds a bundle from its files (path inside the bundle → bytes), as read from a
    /// directory that has the zip's layout.
    pub fn from_files(files: BTreeMap<String, Vec<u8>>, limits: &BundleLimits) -> Result<Self, BundleError> {
        if files.len() > limits.max_entries {
            return Err(BundleError::TooManyEntries { limit: limits.max_entries });
        }
        let total = files.values().fold(0u64, |sum, f| sum.saturating_add(f.len() as u64));
        if total > limits.max_total_bytes {
            return Err(BundleError::TooLarge { limit: limits.max_total_bytes });
        }
        let mut hasher = Sha256::new();
        for (path, bytes) in &files {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(bytes);
        }
        Self::from_files_with_digest(files, hex::encode(hasher.finalize()), limits)
    }

    fn from_files_with_digest(
        files: BTreeMap<String, Vec<u8>>,
        sha256: String,
        limits: &BundleLimits,
    ) -> Result<Self, BundleError> {
        for path in files.keys() {
            check_path(path)?;
        }
        let raw = files.get("manifest.json").ok_or(BundleError::MissingManifest)?;
        let mut json_bytes = 0;
        limits.check_json_file("manifest.json", raw, &mut json_bytes)?;
        let manifest = Manifest::parse(raw)?;
        limits.check_flow_count(manifest.flows.len())?;
        let mut flows = BTreeMap::new();
        for (flow_id, path) in &manifest.flows {
            check_path(path)?;
            let normalized = path.trim_start_matches("./");
            let bytes = files
                .get(normalized)
                .ok_or_else(|| BundleError::MissingFlowFile { flow_id: flow_id.clone(), path: path.clone() })?;
            limits.check_json_file(normalized, bytes, &mut json_bytes)?;
            let flow: Value = serde_json::from_slice(bytes)
                .map_err(|e| BundleError::InvalidFlow { flow_id: flow_id.clone(), reason: e.to_string() })?;
            if !flow.is_object() {
                return Err(BundleError::InvalidFlow { flow_id: flow_id.clone(), reason: "not a JSON object".into() });
            }
            limits.check_flow(flow_id, &flow)?;
            flows.insert(flow_id.clone(), flow);
        }
        Ok(Self { manifest, flows, sha256 })
    }

    /// `id@version`.
    pub fn bundle_ref(&self) -> String {
        format!("{}@{}", self.manifest.bundle_id, self.manifest.bundle_version)
    }

    /// The entrypoint to run when a client names only the bundle: the declared default, or
    /// the only entrypoint.
    pub fn default_flow_id(&self) -> Option<&str> {
        match (&self.manifest.default_entrypoint, self.manifest.entrypoints.as_slice()) {
            (Some(id), _) => Some(id.as_str()),
            (None, [only]) => Some(only.flow_id.as_str()),
            _ => None,
        }
    }
}

/// Refuses absolute paths, `..` components, backslashes and drive letters.
pub(crate) fn check_path(path: &str) -> Result<(), BundleError> {
    let unsafe_path = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path.as_bytes().get(1) == Some(&b':')
        || path.split('/').any(|part| part == "..");
    if unsafe_path { Err(BundleError::UnsafePath(path.to_owned())) } else { Ok(()) }
}

#[cfg(test)]
mod tests;
