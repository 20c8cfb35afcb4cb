//! Response shapes of the bundle catalog (`GET /bundles`, a bundle, a flow, its input
//! schema), key for key as the reference answers them.

use agw_domain::bundle::{Bundle, Entrypoint};
use agw_store::LoadedBundle;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

fn bundle_description(bundle: &Bundle) -> Value {
    bundle
        .manifest
        .metadata
        .get("description")
        .cloned()
        .or_else(|| bundle.manifest.entrypoints.first().and_then(|e| e.description.clone()).map(Value::String))
        .unwrap_or(Value::String(String::new()))
}

fn entry_name(entry: &Entrypoint) -> String {
    entry.name.clone().unwrap_or_else(|| entry.flow_id.clone())
}

fn workflow_id(bundle: &Bundle, flow_id: &str) -> String {
    format!("{}:{flow_id}", bundle.bundle_ref())
}

/// One entrypoint of a bundle in `GET /bundles`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListEntrypoint {
    pub flow_id: String,
    pub workflow_id: String,
    pub name: String,
    pub description: String,
    /// Interface tags (open).
    pub interfaces: Vec<Value>,
    /// Always false.
    pub is_agent_default: bool,
    /// Always empty.
    pub agent_default_interfaces: Vec<String>,
    /// Always false.
    pub deprecated: bool,
    /// Always null.
    #[schema(required = true)]
    pub deprecated_at: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub deprecated_reason: Option<String>,
}

/// One entrypoint of a bundle in `GET /bundles/{id}`, with its inputs and nodes.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailEntrypoint {
    pub flow_id: String,
    pub workflow_id: String,
    pub name: String,
    pub description: String,
    /// Interface tags (open).
    pub interfaces: Vec<Value>,
    /// The flow's inputs: the data output pins of its `on_flow_start` node.
    pub inputs: Vec<EntrypointInput>,
    /// `node id → {type, label}`.
    #[schema(value_type = HashMap<String, NodeIndexEntry>)]
    pub node_index: Map<String, Value>,
    /// Always false.
    pub deprecated: bool,
    /// Always null.
    #[schema(required = true)]
    pub deprecated_at: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub deprecated_reason: Option<String>,
}

/// One node of a flow, as `node_index` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeIndexEntry {
    /// The node type (as the flow file says).
    #[serde(rename = "type")]
    #[schema(required = true)]
    pub kind: Option<String>,
    /// The node's label, else its type.
    #[schema(required = true)]
    pub label: Option<String>,
}

/// One input of an entrypoint in a bundle detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntrypointInput {
    pub id: String,
    pub label: String,
    /// The pin type (`number`, `string`, `any`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Always false: every input has a default or may be absent.
    pub required: bool,
    /// The pin's default, null when none (any JSON value).
    pub default: Value,
}

/// Who owns a bundle: the gateway.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleOwner {
    /// Always `gateway`.
    pub kind: String,
    /// Always null.
    #[schema(required = true)]
    pub user_id: Option<String>,
}

fn owner() -> BundleOwner {
    BundleOwner { kind: "gateway".into(), user_id: None }
}

/// What a client may do with a bundle.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleActions {
    pub can_run: bool,
    pub can_upload: bool,
    pub can_remove: bool,
    pub can_archive: bool,
    pub can_set_availability: bool,
    pub can_edit_description: bool,
    pub can_deprecate: bool,
    pub catalog_promote_endpoint: String,
}

/// One item of `GET /bundles`: the newest version of a bundle.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleItem {
    pub bundle_id: String,
    pub bundle_version: String,
    /// `id@version`.
    pub bundle_ref: String,
    /// Always `private`.
    pub registry_scope: String,
    /// Always `imported`.
    pub source: String,
    pub owner: BundleOwner,
    pub shipped: bool,
    pub available: bool,
    pub archived: bool,
    /// The manifest's `metadata.description` (any JSON value), else the first entrypoint's.
    pub description: Value,
    pub description_edited: bool,
    /// Always `published`.
    pub version_channel: String,
    pub is_draft: bool,
    pub is_published: bool,
    pub latest_published_version: String,
    pub latest_any_version: String,
    pub created_at: String,
    /// The manifest's metadata (open object).
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub automation_defaults: Map<String, Value>,
    #[schema(required = true)]
    pub default_entrypoint: Option<String>,
    pub entrypoints: Vec<ListEntrypoint>,
    pub actions: BundleActions,
}

/// One item of `GET /bundles`.
pub fn bundle_item(loaded: &LoadedBundle) -> BundleItem {
    let bundle = &loaded.bundle;
    let m = &bundle.manifest;
    let entrypoints = m
        .entrypoints
        .iter()
        .map(|e| ListEntrypoint {
            flow_id: e.flow_id.clone(),
            workflow_id: workflow_id(bundle, &e.flow_id),
            name: entry_name(e),
            description: e.description.clone().unwrap_or_default(),
            interfaces: e.interfaces.clone(),
            is_agent_default: false,
            agent_default_interfaces: Vec::new(),
            deprecated: false,
            deprecated_at: None,
            deprecated_reason: None,
        })
        .collect();
    BundleItem {
        bundle_id: m.bundle_id.clone(),
        bundle_version: m.bundle_version.clone(),
        bundle_ref: bundle.bundle_ref(),
        registry_scope: "private".into(),
        source: "imported".into(),
        owner: owner(),
        shipped: false,
        available: true,
        archived: false,
        description: bundle_description(bundle),
        description_edited: false,
        version_channel: "published".into(),
        is_draft: false,
        is_published: true,
        latest_published_version: m.bundle_version.clone(),
        latest_any_version: m.bundle_version.clone(),
        created_at: loaded.created_at.clone(),
        metadata: m.metadata.clone(),
        automation_defaults: Map::new(),
        default_entrypoint: bundle.default_flow_id().map(str::to_owned),
        entrypoints,
        actions: BundleActions {
            can_run: true,
            can_upload: true,
            can_remove: false,
            can_archive: true,
            can_set_availability: true,
            can_edit_description: true,
            can_deprecate: true,
            catalog_promote_endpoint: "/api/gateway/admin/workflow-catalog/promote".into(),
        },
    }
}

/// A bundle file that was not loaded, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

impl From<&agw_store::SkippedBundle> for SkippedFile {
    fn from(skipped: &agw_store::SkippedBundle) -> Self {
        Self { path: skipped.path.clone(), reason: skipped.reason.clone() }
    }
}

/// `GET /bundles`: the newest version of every loaded bundle, and the files that were not
/// loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleList {
    pub items: Vec<BundleItem>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub interfaces: Map<String, Value>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[schema(required = true)]
    pub executable_for: Option<Value>,
    /// Always null.
    #[schema(required = true)]
    pub default_bundle_id: Option<String>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub default_agent_workflows: Map<String, Value>,
    pub skipped_count: usize,
    pub skipped: Vec<SkippedFile>,
}

/// `GET /bundles/{id}`: one version of a bundle with its flows.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleDetail {
    pub bundle_id: String,
    pub bundle_version: String,
    pub bundle_ref: String,
    pub source: String,
    pub shipped: bool,
    pub owner: BundleOwner,
    pub created_at: String,
    #[schema(required = true)]
    pub default_entrypoint: Option<String>,
    pub entrypoints: Vec<DetailEntrypoint>,
    /// The ids of every flow in the bundle.
    pub flows: Vec<String>,
    /// The manifest's metadata (open object).
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Always empty.
    #[schema(value_type = Object)]
    pub automation_defaults: Map<String, Value>,
}

/// `GET /bundles/{id}`.
pub fn bundle_detail(loaded: &LoadedBundle) -> BundleDetail {
    let bundle = &loaded.bundle;
    let m = &bundle.manifest;
    let entrypoints = m
        .entrypoints
        .iter()
        .map(|e| {
            let flow = bundle.flows.get(&e.flow_id).unwrap_or(&Value::Null);
            let inputs = flow_inputs(flow)
                .into_iter()
                .map(|i| EntrypointInput {
                    id: i.id,
                    label: i.label,
                    kind: i.kind,
                    required: false,
                    default: i.default,
                })
                .collect();
            DetailEntrypoint {
                flow_id: e.flow_id.clone(),
                workflow_id: workflow_id(bundle, &e.flow_id),
                name: entry_name(e),
                description: e.description.clone().unwrap_or_default(),
                interfaces: e.interfaces.clone(),
                inputs,
                node_index: node_index(flow),
                deprecated: false,
                deprecated_at: None,
                deprecated_reason: None,
            }
        })
        .collect();
    BundleDetail {
        bundle_id: m.bundle_id.clone(),
        bundle_version: m.bundle_version.clone(),
        bundle_ref: bundle.bundle_ref(),
        source: "imported".into(),
        shipped: false,
        owner: owner(),
        created_at: loaded.created_at.clone(),
        default_entrypoint: bundle.default_flow_id().map(str::to_owned),
        entrypoints,
        flows: bundle.flows.keys().cloned().collect(),
        metadata: m.metadata.clone(),
        automation_defaults: Map::new(),
    }
}

/// Which flow an answer is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowIds {
    pub bundle_id: String,
    pub bundle_version: String,
    pub bundle_ref: String,
    pub flow_id: String,
    pub workflow_id: String,
}

impl FlowIds {
    /// The ids of `flow_id` in `bundle`.
    pub fn of(bundle: &Bundle, flow_id: &str) -> Self {
        Self {
            bundle_id: bundle.manifest.bundle_id.clone(),
            bundle_version: bundle.manifest.bundle_version.clone(),
            bundle_ref: bundle.bundle_ref(),
            flow_id: flow_id.to_owned(),
            workflow_id: workflow_id(bundle, flow_id),
        }
    }
}

/// `GET /bundles/{id}/flows/{flow_id}`: a flow's VisualFlow JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowDocument {
    #[serde(flatten)]
    pub ids: FlowIds,
    /// The VisualFlow JSON (open object: `nodes`, `edges`...).
    #[schema(value_type = Object)]
    pub flow: Value,
}

fn node_index(flow: &Value) -> Map<String, Value> {
    let mut index = Map::new();
    for node in flow.get("nodes").and_then(Value::as_array).into_iter().flatten() {
        let Some(id) = node.get("id").and_then(Value::as_str) else { continue };
        let kind = node.get("type").cloned().unwrap_or(Value::Null);
        let label = node.pointer("/data/label").cloned().unwrap_or_else(|| kind.clone());
        index.insert(id.to_owned(), json!({"type": kind, "label": label}));
    }
    index
}

/// One input of a flow: a data output pin of its `on_flow_start` node.
pub struct FlowInput {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub default: Value,
}

pub fn flow_inputs(flow: &Value) -> Vec<FlowInput> {
    // Borrowed, not cloned: a flow may have thousands of nodes and this runs per request.
    let nodes = flow.get("nodes").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let Some(start) = nodes.iter().find(|n| n.get("type").and_then(Value::as_str) == Some("on_flow_start")) else {
        return Vec::new();
    };
    let defaults = start.pointer("/data/pinDefaults").cloned().unwrap_or(Value::Null);
    start
        .pointer("/data/outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("type").and_then(Value::as_str) != Some("execution"))
        .filter_map(|p| {
            let id = p.get("id")?.as_str()?.to_owned();
            Some(FlowInput {
                label: p.get("label").and_then(Value::as_str).filter(|l| !l.is_empty()).unwrap_or(&id).to_owned(),
                kind: p.get("type").and_then(Value::as_str).unwrap_or("any").to_owned(),
                default: defaults.get(&id).cloned().unwrap_or(Value::Null),
                id,
            })
        })
        .collect()
}

/// The JSON Schema of one input pin.
fn input_schema(input: &FlowInput) -> Map<String, Value> {
    let json_type = match input.kind.as_str() {
        "number" | "float" => Some("number"),
        "integer" | "int" => Some("integer"),
        "string" | "text" => Some("string"),
        "boolean" | "bool" => Some("boolean"),
        "object" | "json" | "dict" => Some("object"),
        "array" | "list" => Some("array"),
        _ => None,
    };
    let mut schema = Map::new();
    if let Some(t) = json_type {
        schema.insert("type".into(), json!(t));
    }
    schema.insert("x-abstract-type".into(), json!(input.kind));
    if !input.default.is_null() {
        schema.insert("default".into(), input.default.clone());
    }
    schema
}

/// One input of a flow's input schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct InputItem {
    pub id: String,
    pub label: String,
    /// The pin type (`number`, `string`, `any`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Always false.
    pub required: bool,
    /// The pin's default, null when none (any JSON value).
    pub default: Value,
    /// The pin's JSON Schema (`type`, `x-abstract-type`, `default`).
    #[schema(value_type = Object)]
    pub schema: Map<String, Value>,
}

/// `GET /bundles/{id}/flows/{flow_id}/input_schema`: what `input_data` a flow takes.
#[derive(Debug, Serialize, ToSchema)]
pub struct InputSchemaDocument {
    #[serde(flatten)]
    pub ids: FlowIds,
    /// Always 1.
    pub version: u32,
    pub inputs: Vec<InputItem>,
    /// `input id → default`, for the inputs that have one.
    #[schema(value_type = Object)]
    pub defaults: Map<String, Value>,
    /// A JSON Schema of `input_data` (`type: object`).
    #[schema(value_type = Object)]
    pub input_data_schema: Value,
}

/// `GET /bundles/{id}/flows/{flow_id}/input_schema`.
pub fn input_schema_doc(ids: FlowIds, flow: &Value) -> InputSchemaDocument {
    let inputs = flow_inputs(flow);
    let defaults: Map<String, Value> =
        inputs.iter().filter(|i| !i.default.is_null()).map(|i| (i.id.clone(), i.default.clone())).collect();
    let properties: Map<String, Value> =
        inputs.iter().map(|i| (i.id.clone(), Value::Object(input_schema(i)))).collect();
    let items = inputs
        .into_iter()
        .map(|i| {
            let schema = input_schema(&i);
            InputItem { id: i.id, label: i.label, kind: i.kind, required: false, default: i.default, schema }
        })
        .collect();
    InputSchemaDocument {
        ids,
        version: 1,
        inputs: items,
        defaults,
        input_data_schema: json!({"type": "object", "additionalProperties": true, "properties": properties}),
    }
}
