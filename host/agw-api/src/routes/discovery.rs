//! `GET /discovery/capabilities`: what this deployment can do, in the reference's
//! `{"capabilities": {...}}` envelope with snake_case keys. Conservative: a capability says
//! `available: true` only when a request to it can succeed here.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;

/// The capabilities envelope: the gateway's version, the loaded plugins and what they
/// provide, the node types flows can use, and the provider kinds (none yet).
pub async fn capabilities(State(state): State<AppState>) -> Json<Value> {
    let plugins = state.plugins.plugins();
    let loaded: Vec<Value> = plugins.iter().map(loaded_entry).collect();
    let node_types = usable_node_types(&plugins);
    // No plugin world provides LLM, voice, vision, music or tools yet, and no route calls
    // one: a client asking for them would fail, so they are not available.
    let unavailable = json!({ "available": false });
    Json(json!({
        "capabilities": {
            "abstractgateway": { "installed": true, "version": env!("CARGO_PKG_VERSION") },
            "plugins": { "loaded": loaded, "problems": state.plugins.problems() },
            "node_types": { "available": node_types > 0, "count": node_types },
            "llm": unavailable,
            "voice": unavailable,
            "vision": unavailable,
            "music": unavailable,
            "tools": unavailable,
        }
    }))
}

/// A loaded plugin as discovery lists it: identity, content hash, worlds, what it provides.
fn loaded_entry(summary: &Value) -> Value {
    json!({
        "name": summary["name"],
        "version": summary["version"],
        "sha256": summary["sha256"],
        "worlds": summary["worlds"],
        "provides": { "node_types": node_types_of(summary).collect::<Vec<_>>() },
        "signature": summary["signature"],
    })
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
