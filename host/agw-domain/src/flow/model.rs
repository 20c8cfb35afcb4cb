//! The VisualFlow JSON shape. Only what execution needs is typed; the rest stays JSON.

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Deserialize)]
pub struct VisualFlow {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nodes: Vec<VisualNode>,
    #[serde(default)]
    pub edges: Vec<Edge>,
    #[serde(rename = "entryNode", default)]
    pub entry_node: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VisualNode {
    pub id: String,
    #[serde(rename = "type", default)]
    pub node_type: String,
    #[serde(default)]
    pub data: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pin {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Edge {
    #[serde(default)]
    pub id: Option<String>,
    pub source: String,
    #[serde(rename = "sourceHandle", default)]
    pub source_handle: Option<String>,
    pub target: String,
    #[serde(rename = "targetHandle", default)]
    pub target_handle: Option<String>,
    /// Authoring data on the wire (`loopLimit`).
    #[serde(default, deserialize_with = "object_or_empty")]
    pub data: Map<String, Value>,
}

/// An object, or nothing for any other JSON (older editors wrote `null`).
fn object_or_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

impl VisualNode {
    /// The node's type: `type`, or `data.nodeType` when the editor left `type` generic.
    pub fn kind(&self) -> &str {
        match self.data.get("nodeType").and_then(Value::as_str) {
            Some(t) if self.node_type.is_empty() || self.node_type == "custom" => t,
            _ => &self.node_type,
        }
    }

    pub fn pins(&self, key: &str) -> Vec<Pin> {
        self.data.get(key).and_then(|v| Vec::<Pin>::deserialize(v).ok()).unwrap_or_default()
    }

    pub fn pin_defaults(&self) -> Map<String, Value> {
        self.data.get("pinDefaults").and_then(Value::as_object).cloned().unwrap_or_default()
    }
}
