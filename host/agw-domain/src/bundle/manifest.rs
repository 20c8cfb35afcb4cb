//! `manifest.json`: what a bundle contains and how to start it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::BundleError;

/// One way into a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entrypoint {
    #[serde(alias = "flowId")]
    pub flow_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub interfaces: Vec<Value>,
}

/// The bundle manifest. camelCase keys are accepted on read, as the reference does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(alias = "bundleFormatVersion")]
    pub bundle_format_version: String,
    #[serde(alias = "bundleId")]
    pub bundle_id: String,
    #[serde(alias = "bundleVersion", default = "default_version")]
    pub bundle_version: String,
    #[serde(alias = "createdAt", default)]
    pub created_at: Option<String>,
    pub entrypoints: Vec<Entrypoint>,
    #[serde(alias = "defaultEntrypoint", default)]
    pub default_entrypoint: Option<String>,
    #[serde(default)]
    pub flows: BTreeMap<String, String>,
    #[serde(default)]
    pub assets: Value,
    #[serde(default)]
    pub artifacts: Value,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

fn default_version() -> String {
    "0.0.0".into()
}

impl Manifest {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        let invalid = BundleError::InvalidManifest;
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if manifest.bundle_format_version != "1" {
            return Err(invalid(format!(
                "bundle_format_version '{}' is not supported (only \"1\")",
                manifest.bundle_format_version
            )));
        }
        check_id("bundle_id", &manifest.bundle_id)?;
        check_id("bundle_version", &manifest.bundle_version)?;
        if manifest.entrypoints.is_empty() {
            return Err(invalid("entrypoints must not be empty".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for entry in &manifest.entrypoints {
            if !seen.insert(entry.flow_id.as_str()) {
                return Err(invalid(format!("entrypoint '{}' is listed twice", entry.flow_id)));
            }
            if !manifest.flows.contains_key(&entry.flow_id) {
                return Err(invalid(format!("entrypoint '{}' has no file in 'flows'", entry.flow_id)));
            }
        }
        if let Some(default) = &manifest.default_entrypoint
            && !seen.contains(default.as_str())
        {
            return Err(invalid(format!("default_entrypoint '{default}' is not an entrypoint")));
        }
        Ok(manifest)
    }

    pub fn entrypoint(&self, flow_id: &str) -> Option<&Entrypoint> {
        self.entrypoints.iter().find(|e| e.flow_id == flow_id)
    }
}

/// Ids end up in file names and workflow ids (`id@version:flow`), so keep them plain.
fn check_id(field: &str, value: &str) -> Result<(), BundleError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
        && !value.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(BundleError::InvalidManifest(format!(
            "{field} '{value}' must be 1-128 characters of letters, digits, '-', '_', '.' or '+'"
        )))
    }
}
