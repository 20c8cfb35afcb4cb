//! Response shapes, key for key as the reference answers them.

use agw_domain::bundle::{Bundle, Entrypoint};
use agw_domain::run::RunState;
use agw_domain::schedule::Schedule;
use agw_store::LoadedBundle;
use serde_json::{Map, Value, json};

/// `GET /runs/{id}`.
pub fn run(run: &RunState) -> Value {
    json!({
        "run_id": run.run_id,
        "workflow_id": run.workflow_id,
        "status": run.status,
        "current_node": run.current_node,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "actor_id": run.actor_id,
        "session_id": run.session_id,
        "parent_run_id": run.parent_run_id,
        "error": run.error,
        "flow_warnings": null,
        "paused": run.paused,
        "pause_reason": run.pause_reason,
        "paused_at": run.paused_at,
        "resumed_at": run.resumed_at,
        "waiting": run.waiting,
        "is_scheduled": run.schedule.is_some(),
        "schedule": run.schedule.as_ref().map(schedule),
        "limits": null,
        "run_lifecycle": null,
        "is_draft": false,
        "output": run.output,
        "session_history": null,
        "automation_id": null,
        "role": run.schedule.as_ref().map(|_| "legacy_schedule"),
        "occurrence_index": null,
        "session_kind": if run.schedule.is_some() { "automation" } else { "chat" },
        "legacy": run.schedule.is_some(),
        "workspace_root": run.workspace_root,
    })
}

/// A scheduled run's `schedule`, without the runner's bookkeeping.
fn schedule(schedule: &Schedule) -> Value {
    json!({
        "kind": schedule.kind,
        "interval": schedule.interval,
        "repeat_count": schedule.repeat_count,
        "repeat_until": schedule.repeat_until,
        "start_at": schedule.start_at,
        "share_context": schedule.share_context,
        "target_workflow_id": schedule.target_workflow_id,
        "target_bundle_ref": schedule.target_bundle_ref,
        "target_flow_id": schedule.target_flow_id,
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    })
}

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

/// One entrypoint as bundle answers list it, plus the keys only one answer has.
fn entrypoint(bundle: &Bundle, entry: &Entrypoint, extra: Value) -> Value {
    let mut item = json!({
        "flow_id": entry.flow_id,
        "workflow_id": workflow_id(bundle, &entry.flow_id),
        "name": entry_name(entry),
        "description": entry.description.clone().unwrap_or_default(),
        "interfaces": entry.interfaces,
    });
    if let (Value::Object(map), Value::Object(extra)) = (&mut item, extra) {
        map.extend(extra);
        map.extend([
            ("deprecated".into(), json!(false)),
            ("deprecated_at".into(), Value::Null),
            ("deprecated_reason".into(), Value::Null),
        ]);
    }
    item
}

/// One item of `GET /bundles`.
pub fn bundle_item(loaded: &LoadedBundle) -> Value {
    let bundle = &loaded.bundle;
    let m = &bundle.manifest;
    let entrypoints: Vec<Value> = m
        .entrypoints
        .iter()
        .map(|e| entrypoint(bundle, e, json!({"is_agent_default": false, "agent_default_interfaces": []})))
        .collect();
    json!({
        "bundle_id": m.bundle_id,
        "bundle_version": m.bundle_version,
        "bundle_ref": bundle.bundle_ref(),
        "registry_scope": "private",
        "source": "imported",
        "owner": { "kind": "gateway", "user_id": null },
        "shipped": false,
        "available": true,
        "archived": false,
        "description": bundle_description(bundle),
        "description_edited": false,
        "version_channel": "published",
        "is_draft": false,
        "is_published": true,
        "latest_published_version": m.bundle_version,
        "latest_any_version": m.bundle_version,
        "created_at": loaded.created_at,
        "metadata": m.metadata,
        "automation_defaults": {},
        "default_entrypoint": bundle.default_flow_id(),
        "entrypoints": entrypoints,
        "actions": {
            "can_run": true, "can_upload": true, "can_remove": false, "can_archive": true,
            "can_set_availability": true, "can_edit_description": true, "can_deprecate": true,
            "catalog_promote_endpoint": "/api/gateway/admin/workflow-catalog/promote"
        },
    })
}

/// `GET /bundles/{id}`.
pub fn bundle_detail(loaded: &LoadedBundle) -> Value {
    let bundle = &loaded.bundle;
    let m = &bundle.manifest;
    let entrypoints: Vec<Value> = m
        .entrypoints
        .iter()
        .map(|e| {
            let flow = bundle.flows.get(&e.flow_id).unwrap_or(&Value::Null);
            let inputs: Vec<Value> = flow_inputs(flow)
                .into_iter()
                .map(|i| json!({"id": i.id, "label": i.label, "type": i.kind, "required": false, "default": i.default}))
                .collect();
            entrypoint(bundle, e, json!({"inputs": inputs, "node_index": node_index(flow)}))
        })
        .collect();
    json!({
        "bundle_id": m.bundle_id,
        "bundle_version": m.bundle_version,
        "bundle_ref": bundle.bundle_ref(),
        "source": "imported",
        "shipped": false,
        "owner": { "kind": "gateway", "user_id": null },
        "created_at": loaded.created_at,
        "default_entrypoint": bundle.default_flow_id(),
        "entrypoints": entrypoints,
        "flows": bundle.flows.keys().collect::<Vec<_>>(),
        "metadata": m.metadata,
        "automation_defaults": {},
    })
}

fn extend(item: &mut Value, extra: &[(&str, Value)]) {
    if let Value::Object(map) = item {
        for (k, v) in extra {
            map.insert((*k).to_owned(), v.clone());
        }
    }
}

fn node_index(flow: &Value) -> Value {
    let mut index = Map::new();
    for node in flow.get("nodes").and_then(Value::as_array).into_iter().flatten() {
        let Some(id) = node.get("id").and_then(Value::as_str) else { continue };
        let kind = node.get("type").cloned().unwrap_or(Value::Null);
        let label = node.pointer("/data/label").cloned().unwrap_or_else(|| kind.clone());
        index.insert(id.to_owned(), json!({"type": kind, "label": label}));
    }
    Value::Object(index)
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
fn input_schema(input: &FlowInput) -> Value {
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
    Value::Object(schema)
}

/// `GET /bundles/{id}/flows/{flow_id}/input_schema`.
pub fn input_schema_doc(ids: Value, flow: &Value) -> Value {
    let inputs = flow_inputs(flow);
    let mut doc = ids;
    let items: Vec<Value> = inputs
        .iter()
        .map(|i| json!({"id": i.id, "label": i.label, "type": i.kind, "required": false, "default": i.default, "schema": input_schema(i)}))
        .collect();
    let defaults: Map<String, Value> =
        inputs.iter().filter(|i| !i.default.is_null()).map(|i| (i.id.clone(), i.default.clone())).collect();
    let properties: Map<String, Value> = inputs.iter().map(|i| (i.id.clone(), input_schema(i))).collect();
    extend(
        &mut doc,
        &[
            ("version", json!(1)),
            ("inputs", Value::Array(items)),
            ("defaults", Value::Object(defaults)),
            ("input_data_schema", json!({"type": "object", "additionalProperties": true, "properties": properties})),
        ],
    );
    doc
}
