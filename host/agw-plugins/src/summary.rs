//! What the host tells the rest of the gateway (and the CLI) about loaded plugins. Plain data,
//! serializable, with no wasmtime types in it.

use serde::Serialize;

use crate::bindings::{NodeSpec, PluginInfo};
use crate::policy::{Denied, GrantSummary};
use crate::signing::SignatureStatus;

/// Where a plugin came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginOrigin {
    /// Shipped inside the gateway binary.
    FirstParty,
    /// A `.wasm` file from the operator's plugin directory.
    Directory,
}

/// A loaded plugin: identity, what it requests, what it provides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub version: String,
    pub description: String,
    pub sdk_version: String,
    /// Hex sha256 of the component bytes (what the ledger records).
    pub sha256: String,
    pub origin: PluginOrigin,
    /// File name, or the first-party name.
    pub label: String,
    /// WIT worlds the component implements, e.g. `node-executor`.
    pub worlds: Vec<String>,
    /// What the plugin requests in `describe()`.
    pub capabilities: CapabilitiesSummary,
    /// What the operator's policy grants of that (the intersection).
    pub granted: GrantSummary,
    /// What it requests and was not granted.
    pub denied: Denied,
    pub signature: SignatureStatus,
    pub nodes: Vec<NodeSummary>,
    /// The LLM provider ids it serves (`llm-provider` world), as it reported them at load.
    pub llm_providers: Vec<LlmProviderSummary>,
}

/// An LLM provider id a plugin serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LlmProviderSummary {
    pub id: String,
    pub display_name: String,
    /// The base URL it calls (never a key).
    pub base_url: Option<String>,
    /// Whether the operator configured it (a base URL or key is set, or it needs none).
    pub configured: bool,
}

/// Capabilities a plugin requests (not what it is granted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapabilitiesSummary {
    pub outbound_hosts: Vec<HostRequestSummary>,
    /// `none`, `read` or `read-write`.
    pub workspace: String,
    pub config_keys: Vec<String>,
    pub secrets: Vec<String>,
    pub memory_mib: Option<u32>,
}

impl CapabilitiesSummary {
    /// Requests nothing.
    pub(crate) fn none() -> Self {
        Self {
            outbound_hosts: Vec::new(),
            workspace: "none".to_owned(),
            config_keys: Vec::new(),
            secrets: Vec::new(),
            memory_mib: None,
        }
    }
}

/// An outbound host a plugin wants to reach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRequestSummary {
    pub host: String,
    pub methods: Vec<String>,
}

/// A node type a plugin provides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSummary {
    pub node_type: String,
    pub category: String,
    pub description: String,
    pub pure: bool,
    pub inputs: Vec<PinSummary>,
    pub outputs: Vec<PinSummary>,
}

/// A node pin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinSummary {
    pub id: String,
    pub label: String,
    /// The VisualFlow pin type (`number`, `string`, `any`, `execution`...).
    pub kind: String,
}

/// A source that could not be loaded (or a conflict between loaded ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{label}: {reason}")]
pub struct LoadProblem {
    /// The file name or first-party name concerned.
    pub label: String,
    pub reason: String,
}

pub(crate) fn summarize(
    info: PluginInfo,
    nodes: Vec<NodeSpec>,
    sha256: String,
    origin: PluginOrigin,
    label: String,
    signature: SignatureStatus,
) -> PluginSummary {
    let caps = info.capabilities;
    PluginSummary {
        name: info.name,
        version: info.version,
        description: info.description,
        sdk_version: info.sdk_version,
        sha256,
        origin,
        label,
        worlds: vec!["node-executor".to_owned()],
        // Filled in with the grant by the loader.
        granted: GrantSummary::default(),
        denied: Denied::default(),
        signature,
        llm_providers: Vec::new(),
        capabilities: CapabilitiesSummary {
            outbound_hosts: caps
                .outbound_hosts
                .into_iter()
                .map(|h| HostRequestSummary { host: h.host, methods: h.methods })
                .collect(),
            workspace: caps.workspace.to_string(),
            config_keys: caps.config_keys,
            secrets: caps.secrets,
            memory_mib: caps.memory_mib,
        },
        nodes: nodes
            .into_iter()
            .map(|n| NodeSummary {
                node_type: n.node_type,
                category: n.category,
                description: n.description,
                pure: n.pure,
                inputs: n.inputs.into_iter().map(|p| PinSummary { id: p.id, label: p.label, kind: p.kind }).collect(),
                outputs: n.outputs.into_iter().map(|p| PinSummary { id: p.id, label: p.label, kind: p.kind }).collect(),
            })
            .collect(),
    }
}
