//! Response shapes of what a client needs to replay or restart a run: its input data, its
//! history bundle and its artifacts, key for key as the reference answers them.

use agw_domain::record::StepRecord;
use agw_domain::run::RunState;
use agw_store::ArtifactMeta;
use serde_json::{Map, Value, json};

/// `workflow_selection`: which workflow a run was started on, as the start answer names it.
pub fn workflow_selection(run: &RunState, name: &str) -> Value {
    json!({
        "source": "client",
        "workflow_id": run.workflow_id,
        "bundle_id": run.flow.bundle_id,
        "bundle_version": run.flow.bundle_version,
        "flow_id": run.flow.flow_id,
        "registry_scope": "private",
        "name": name,
        "interface": null,
    })
}

/// The access mode the reference reports for a gateway-made workspace.
const WORKSPACE_ACCESS_MODE: &str = "all_except_ignored";

/// `GET /runs/{id}/input_data`. `pin_ids` are the flow's inputs when its bundle is loaded;
/// then `input_data` holds only those (what a client may start again), else every public key.
pub fn input_data(run: &RunState, pin_ids: &[String], name: &str) -> Value {
    let mut inputs: Map<String, Value> = run
        .input_data
        .iter()
        .filter(|(k, _)| if pin_ids.is_empty() { !k.starts_with('_') } else { pin_ids.contains(k) })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    inputs.insert("workflow_selection".into(), workflow_selection(run, name));
    json!({
        "run_id": run.run_id,
        "workflow_id": run.workflow_id,
        "bundle_id": run.flow.bundle_id,
        "bundle_version": run.flow.bundle_version,
        "flow_id": run.flow.flow_id,
        "pin_ids": pin_ids,
        "input_data": inputs,
        "workspace": {
            "workspace_root": run.workspace_root,
            "workspace_access_mode": WORKSPACE_ACCESS_MODE,
        },
    })
}

/// The run's variables as the history bundle shows them: its public inputs plus where it works.
pub fn history_input_data(run: &RunState, name: &str) -> Value {
    let mut vars: Map<String, Value> =
        run.input_data.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.insert("workspace_access_mode".into(), json!(WORKSPACE_ACCESS_MODE));
    vars.insert("workspace_allowed_paths".into(), json!([]));
    vars.insert("workspace_root".into(), json!(run.workspace_root));
    vars.insert("workflow_selection".into(), workflow_selection(run, name));
    Value::Object(vars)
}

/// The `run` of a history bundle: the run view's core keys.
pub fn history_run(run: &RunState) -> Value {
    json!({
        "run_id": run.run_id,
        "workflow_id": run.workflow_id,
        "status": run.status,
        "current_node": run.current_node.clone().unwrap_or_default(),
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "actor_id": run.actor_id,
        "session_id": run.session_id,
        "parent_run_id": run.parent_run_id,
        "error": run.error,
        "waiting": run.waiting,
    })
}

/// `workflow_snapshot` of a history bundle: a reference to the run's snapshot artifact.
pub fn snapshot_ref(meta: &ArtifactMeta) -> Value {
    json!({
        "workflow_id": meta.tags.get("workflow_id"),
        "format": meta.tags.get("format"),
        "sha256": meta.sha256,
        "artifact_id": meta.artifact_id,
        "created_at": meta.created_at,
    })
}

/// One ledger of a history bundle; `first_cursor` is the 1-based cursor of `records[0]`.
pub fn history_ledger(run_id: &str, total: u64, first_cursor: u64, records: &[StepRecord], artifacts: Value) -> Value {
    let items: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, record)| json!({"cursor": first_cursor + i as u64, "record": record}))
        .collect();
    json!({
        "run_id": run_id,
        "total": total,
        "cursor_start": first_cursor,
        "cursor_end": first_cursor + records.len() as u64 - 1,
        "items": items,
        "artifacts": artifacts,
    })
}

/// One timeline row of a history bundle.
pub fn timeline_row(run_id: &str, cursor: u64, record: &StepRecord) -> Value {
    let record = serde_json::to_value(record).unwrap_or(Value::Null);
    let started_at = record.get("started_at").cloned().unwrap_or(Value::Null);
    let ended_at = match record.get("ended_at") {
        Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
        _ => started_at.clone(),
    };
    let millis =
        |v: &Value| v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.timestamp_micros());
    let duration_ms = match (millis(&started_at), millis(&ended_at)) {
        (Some(s), Some(e)) => json!(((e - s).max(0) as f64 / 10.0).round() / 100.0),
        _ => Value::Null,
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    json!({
        "run_id": run_id,
        "cursor": cursor,
        "node_id": text(record.get("node_id")),
        "status": text(record.get("status")),
        "effect_type": text(record.pointer("/effect/type")),
        "started_at": started_at,
        "ended_at": ended_at,
        "duration_ms": duration_ms,
    })
}

/// How the reference classifies a content type for rendering.
fn render_kind(content_type: &str) -> &'static str {
    let ct = content_type.trim().to_ascii_lowercase();
    let ct = ct.split(';').next().unwrap_or_default().trim();
    match ct {
        _ if ct.starts_with("image/") => "image",
        _ if ct.starts_with("audio/") => "audio",
        _ if ct.starts_with("video/") => "video",
        "application/javascript"
        | "application/typescript"
        | "application/x-sh"
        | "text/javascript"
        | "text/x-python"
        | "text/x-rust"
        | "text/x-go"
        | "text/x-c"
        | "text/x-shellscript" => "code",
        "application/json" => "json",
        _ if ct.ends_with("+json") => "json",
        "text/markdown" | "text/x-markdown" => "markdown",
        _ if ct.contains("html") => "html",
        _ if ct.starts_with("text/") => "text",
        _ if ct.contains("pdf") || ct.contains("document") => "document",
        _ => "binary",
    }
}

fn tag<'a>(meta: &'a ArtifactMeta, key: &str) -> Option<&'a str> {
    meta.tags.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn semantic_kind(meta: &ArtifactMeta) -> String {
    if let Some(explicit) = tag(meta, "semantic_kind") {
        return explicit.to_ascii_lowercase();
    }
    match tag(meta, "kind") {
        Some(kind @ ("attachment" | "evidence" | "workflow_snapshot" | "conversation_span" | "memory_note")) => {
            kind.to_owned()
        }
        _ => render_kind(&meta.content_type).to_owned(),
    }
}

/// The modality an artifact reference carries (what a client may inline).
fn ref_modality(content_type: &str) -> &'static str {
    match render_kind(content_type) {
        "image" => "image",
        "audio" => "audio",
        "video" => "video",
        "binary" | "document" => "file",
        _ => "text",
    }
}

/// The reference's artifact descriptor, inferred from the content type and tags.
fn descriptor(meta: &ArtifactMeta) -> Value {
    let render = render_kind(&meta.content_type);
    let semantic = semantic_kind(meta);
    let modality = tag(meta, "modality").map_or_else(|| render.to_owned(), str::to_ascii_lowercase);
    json!({
        "schema": "abstractruntime.artifact_descriptor.v1",
        "schema_version": 1,
        "semantic_kind": semantic,
        "render_kind": render,
        "modality": modality,
        "task": "",
        "classification_source": "runtime_mime_inferred",
        "session_id": tag(meta, "session_id"),
        "workflow_id": tag(meta, "workflow_id"),
        "node_id": tag(meta, "node_id"),
        "step_id": tag(meta, "step_id"),
        "effect_id": null,
        "turn_id": null,
        "ledger_cursor": null,
        "parent_run_id": tag(meta, "parent_run_id"),
        "actor_id": null,
        "producer": {},
        "provenance": { "run_id": meta.run_id },
        "generation": {},
        "media": {},
        "source_refs": [],
        "links": {},
        "security": {},
        "actions": {},
    })
}

/// Access statistics; this gateway does not count accesses, so they stay at zero.
fn access() -> Value {
    json!({
        "access_count": 0, "metadata_access_count": 0, "content_access_count": 0,
        "preview_count": 0, "download_count": 0, "last_accessed_at": null, "last_action": null,
        "last_actor_id": null, "last_session_id": null, "last_run_id": null, "actions": {},
    })
}

/// An artifact as stored (the history bundle lists these per ledger).
pub fn artifact_summary(meta: &ArtifactMeta) -> Value {
    json!({
        "artifact_id": meta.artifact_id,
        "blob_id": meta.blob_id,
        "run_id": meta.run_id,
        "content_type": meta.content_type,
        "size_bytes": meta.size_bytes,
        "created_at": meta.created_at,
        "tags": meta.tags,
        "descriptor": descriptor(meta),
        "metadata": meta.metadata,
        "access": access(),
    })
}

fn links(meta: &ArtifactMeta) -> Value {
    let run = format!("/api/gateway/runs/{}", meta.run_id);
    let detail = format!("{run}/artifacts/{}", meta.artifact_id);
    json!({
        "detail": detail,
        "content": format!("{detail}/content"),
        "preview": format!("{detail}/content?access=preview"),
        "download": format!("{detail}/content?access=download"),
        "run_artifacts": format!("{run}/artifacts"),
        "ledger": format!("{run}/ledger"),
        "history_bundle": format!("{run}/history_bundle"),
        "run": run,
        "observe_route": format!("#/observe/{}", meta.run_id),
    })
}

const AVAILABLE_ACTIONS: [&str; 4] = ["preview", "download", "open_run", "open_ledger"];

fn title(meta: &ArtifactMeta, semantic: &str) -> String {
    if let Some(title) = ["title", "name", "label"].iter().find_map(|k| tag(meta, k)) {
        return title.to_owned();
    }
    if let Some(name) = meta.filename.as_deref().filter(|f| !f.is_empty()) {
        return name.to_owned();
    }
    let kind: Vec<String> = semantic
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        })
        .collect();
    let kind = if kind.is_empty() { "Artifact".to_owned() } else { kind.join(" ") };
    format!("{kind} {}", meta.artifact_id.get(..12).unwrap_or(&meta.artifact_id))
}

/// The reference's `artifact_envelope_v1`: everything a client renders an artifact from.
fn envelope(meta: &ArtifactMeta, descriptor: &Value, title: &str) -> Value {
    let d = |key: &str| descriptor.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "schema": "abstractgateway.artifact_envelope.v1",
        "schema_version": 1,
        "artifact_id": meta.artifact_id,
        "run_id": meta.run_id,
        "content_type": meta.content_type,
        "size_bytes": meta.size_bytes,
        "created_at": meta.created_at,
        "filename": meta.filename,
        "source_path": null,
        "sha256": meta.sha256,
        "semantic_kind": d("semantic_kind"),
        "render_kind": d("render_kind"),
        "modality": d("modality"),
        "task": d("task"),
        "classification_source": d("classification_source"),
        "session_id": d("session_id"),
        "workflow_id": d("workflow_id"),
        "node_id": d("node_id"),
        "step_id": d("step_id"),
        "effect_id": null,
        "turn_id": null,
        "ledger_cursor": null,
        "parent_run_id": d("parent_run_id"),
        "actor_id": null,
        "title": title,
        "tags": meta.tags,
        "descriptor": descriptor,
        "access": access(),
        "media": {},
        "generation": {},
        "producer": {},
        "provenance": d("provenance"),
        "source_refs": [],
        "links": links(meta),
        "actions": {
            "preview": true, "download": true, "open_run": true, "open_ledger": true, "open_provider_trace": false,
        },
        "available_actions": AVAILABLE_ACTIONS,
        "provider_trace_available": false,
        "audit_available": false,
        "legacy_inferred": true,
    })
}

/// One item of `GET /runs/{id}/artifacts`, also the body of `GET /runs/{id}/artifacts/{aid}`.
pub fn artifact_item(meta: &ArtifactMeta) -> Value {
    let descriptor = descriptor(meta);
    let semantic = descriptor["semantic_kind"].as_str().unwrap_or_default().to_owned();
    let title = title(meta, &semantic);
    let d = |key: &str| descriptor.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "artifact_id": meta.artifact_id,
        "run_id": meta.run_id,
        "content_path": null,
        "content_type": meta.content_type,
        "size_bytes": meta.size_bytes,
        "created_at": meta.created_at,
        "tags": meta.tags,
        "filename": meta.filename,
        "source_path": null,
        "sha256": meta.sha256,
        "modality": d("modality"),
        "ref": {
            "$artifact": meta.artifact_id,
            "artifact_id": meta.artifact_id,
            "content_type": meta.content_type,
            "modality": ref_modality(&meta.content_type),
            "run_id": meta.run_id,
            "sha256": meta.sha256,
        },
        "semantic_kind": semantic,
        "render_kind": d("render_kind"),
        "task": null,
        "classification_source": d("classification_source"),
        "session_id": d("session_id"),
        "workflow_id": d("workflow_id"),
        "node_id": d("node_id"),
        "step_id": d("step_id"),
        "effect_id": null,
        "turn_id": null,
        "ledger_cursor": null,
        "parent_run_id": d("parent_run_id"),
        "actor_id": null,
        "title": title,
        "media": {},
        "generation": {},
        "producer": {},
        "provenance": d("provenance"),
        "source_refs": [],
        "access": access(),
        "links": links(meta),
        "available_actions": AVAILABLE_ACTIONS,
        "provider_trace_available": false,
        "audit_available": false,
        "legacy_inferred": true,
        "raw_metadata": meta.metadata,
        "descriptor": descriptor,
        "artifact_envelope_v1": envelope(meta, &descriptor, &title),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_classify_like_the_reference() {
        for (ct, kind) in [
            ("application/json", "json"),
            ("application/ld+json", "json"),
            ("text/plain; charset=utf-8", "text"),
            ("text/markdown", "markdown"),
            ("text/html", "html"),
            ("image/png", "image"),
            ("application/pdf", "document"),
            ("application/octet-stream", "binary"),
        ] {
            assert_eq!(render_kind(ct), kind, "{ct}");
        }
    }

    #[test]
    fn titles_name_the_kind_and_the_id() {
        let meta: ArtifactMeta = serde_json::from_value(json!({
            "artifact_id": "5181105c9eddf7df16cf57bf0dbc8c64", "blob_id": "b", "run_id": "r",
            "content_type": "application/json", "size_bytes": 1, "sha256": "s", "created_at": "t",
            "tags": {"kind": "workflow_snapshot"},
        }))
        .expect("meta");
        assert_eq!(title(&meta, &semantic_kind(&meta)), "Workflow Snapshot 5181105c9edd");
    }
}
