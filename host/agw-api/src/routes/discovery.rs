//! `GET /discovery/capabilities`: what this deployment can do, in the reference's
//! `{"capabilities": {...}}` envelope with snake_case keys. Conservative: a capability says
//! `available: true` only when a request to it can succeed here.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{AppState, PluginProblem};

/// `GET /discovery/capabilities`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilitiesEnvelope {
    pub capabilities: Capabilities,
}

/// What this deployment can do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub abstractgateway: GatewayCapability,
    pub plugins: PluginCapabilities,
    pub node_types: NodeTypesCapability,
    pub llm: Unavailable,
    pub voice: Unavailable,
    pub vision: Unavailable,
    pub music: Unavailable,
    pub tools: Unavailable,
}

/// The gateway itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayCapability {
    pub installed: bool,
    pub version: String,
}

/// The loaded plugins and the sources that failed to load.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginCapabilities {
    pub loaded: Vec<LoadedPlugin>,
    pub problems: Vec<PluginProblem>,
}

/// A loaded plugin: identity, content hash, worlds, what it provides.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadedPlugin {
    /// From the plugin's summary (any JSON value).
    pub name: Value,
    /// From the plugin's summary (any JSON value).
    pub version: Value,
    /// From the plugin's summary (any JSON value).
    pub sha256: Value,
    /// From the plugin's summary (any JSON value).
    pub worlds: Value,
    pub provides: PluginProvides,
    /// From the plugin's summary (any JSON value).
    pub signature: Value,
}

/// What a plugin provides.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginProvides {
    pub node_types: Vec<String>,
}

/// Node types flows can use.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeTypesCapability {
    pub available: bool,
    /// Node types exactly one loaded plugin provides.
    pub count: usize,
}

/// A capability this deployment does not have.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Unavailable {
    /// Always false.
    pub available: bool,
}

/// The capabilities envelope: the gateway's version, the loaded plugins and what they
/// provide, the node types flows can use, and the provider kinds (none yet).
#[utoipa::path(
    get,
    path = "/discovery/capabilities",
    tag = "discovery",
    summary = "What this deployment can do",
    responses((status = 200, description = "The capabilities", body = CapabilitiesEnvelope)),
)]
pub async fn capabilities(State(state): State<AppState>) -> Json<CapabilitiesEnvelope> {
    let plugins = state.plugins.plugins();
    let loaded: Vec<LoadedPlugin> = plugins.iter().map(loaded_entry).collect();
    let node_types = usable_node_types(&plugins);
    // No plugin world provides LLM, voice, vision, music or tools yet, and no route calls
    // one: a client asking for them would fail, so they are not available.
    let unavailable = Unavailable { available: false };
    Json(CapabilitiesEnvelope {
        capabilities: Capabilities {
            abstractgateway: GatewayCapability { installed: true, version: env!("CARGO_PKG_VERSION").into() },
            plugins: PluginCapabilities { loaded, problems: state.plugins.problems() },
            node_types: NodeTypesCapability { available: node_types > 0, count: node_types },
            llm: unavailable,
            voice: unavailable,
            vision: unavailable,
            music: unavailable,
            tools: unavailable,
        },
    })
}

/// A loaded plugin as discovery lists it.
fn loaded_entry(summary: &Value) -> LoadedPlugin {
    LoadedPlugin {
        name: summary["name"].clone(),
        version: summary["version"].clone(),
        sha256: summary["sha256"].clone(),
        worlds: summary["worlds"].clone(),
        provides: PluginProvides { node_types: node_types_of(summary).map(str::to_owned).collect() },
        signature: summary["signature"].clone(),
    }
}

fn node_types_of(summary: &Value) -> impl Iterator<Item = &str> {
    summary["nodes"].as_array().into_iter().flatten().filter_map(|n| n["node_type"].as_str())
}

/// Node types a flow can use: those exactly one loaded plugin provides. The host withholds
/// a type several plugins claim (and lists the conflict as a problem), so it is not counted.
fn usable_node_types(plugins: &[Value]) -> usize {
    let mut providers: BTreeMap<&str, usize> = BTreeMap::new();
    for node_type in plugins.iter().flat_map(node_types_of) {
        *providers.entry(node_type).or_default() += 1;
    }
    providers.values().filter(|&&n| n == 1).count()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::usable_node_types;

    #[test]
    fn a_node_type_claimed_twice_is_not_usable() {
        let a = json!({"nodes": [{"node_type": "add"}, {"node_type": "concat"}]});
        let b = json!({"nodes": [{"node_type": "add"}]});
        assert_eq!(usable_node_types(&[a, b]), 1);
    }
}
