//! Response shapes of a run's artifacts: the list item (with the reference's descriptor,
//! links and `artifact_envelope_v1`) and the summary a history bundle carries, key for key as
//! the reference answers them.

use agw_store::ArtifactMeta;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

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

fn tag_owned(meta: &ArtifactMeta, key: &str) -> Option<String> {
    tag(meta, key).map(str::to_owned)
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

/// Where an artifact came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Provenance {
    pub run_id: String,
}

/// The reference's artifact descriptor (`abstractruntime.artifact_descriptor.v1`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Descriptor {
    pub schema: String,
    pub schema_version: u32,
    pub semantic_kind: String,
    /// `image`, `audio`, `video`, `code`, `json`, `markdown`, `html`, `text`, `document`, `binary`.
    pub render_kind: String,
    pub modality: String,
    pub task: String,
    pub classification_source: String,
    #[schema(required = true)]
    pub session_id: Option<String>,
    #[schema(required = true)]
    pub workflow_id: Option<String>,
    #[schema(required = true)]
    pub node_id: Option<String>,
    #[schema(required = true)]
    pub step_id: Option<String>,
    #[schema(required = true)]
    pub effect_id: Option<String>,
    #[schema(required = true)]
    pub turn_id: Option<String>,
    #[schema(required = true)]
    pub ledger_cursor: Option<u64>,
    #[schema(required = true)]
    pub parent_run_id: Option<String>,
    #[schema(required = true)]
    pub actor_id: Option<String>,
    #[schema(value_type = Object)]
    pub producer: Map<String, Value>,
    pub provenance: Provenance,
    #[schema(value_type = Object)]
    pub generation: Map<String, Value>,
    #[schema(value_type = Object)]
    pub media: Map<String, Value>,
    pub source_refs: Vec<Value>,
    #[schema(value_type = Object)]
    pub links: Map<String, Value>,
    #[schema(value_type = Object)]
    pub security: Map<String, Value>,
    #[schema(value_type = Object)]
    pub actions: Map<String, Value>,
}

/// The artifact descriptor, inferred from the content type and tags.
fn descriptor(meta: &ArtifactMeta) -> Descriptor {
    let render = render_kind(&meta.content_type);
    let modality = tag(meta, "modality").map_or_else(|| render.to_owned(), str::to_ascii_lowercase);
    Descriptor {
        schema: "abstractruntime.artifact_descriptor.v1".into(),
        schema_version: 1,
        semantic_kind: semantic_kind(meta),
        render_kind: render.into(),
        modality,
        task: String::new(),
        classification_source: "runtime_mime_inferred".into(),
        session_id: tag_owned(meta, "session_id"),
        workflow_id: tag_owned(meta, "workflow_id"),
        node_id: tag_owned(meta, "node_id"),
        step_id: tag_owned(meta, "step_id"),
        effect_id: None,
        turn_id: None,
        ledger_cursor: None,
        parent_run_id: tag_owned(meta, "parent_run_id"),
        actor_id: None,
        producer: Map::new(),
        provenance: Provenance { run_id: meta.run_id.clone() },
        generation: Map::new(),
        media: Map::new(),
        source_refs: Vec::new(),
        links: Map::new(),
        security: Map::new(),
        actions: Map::new(),
    }
}

/// Access statistics; this gateway does not count accesses, so they stay at zero.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessStats {
    pub access_count: u64,
    pub metadata_access_count: u64,
    pub content_access_count: u64,
    pub preview_count: u64,
    pub download_count: u64,
    #[schema(required = true)]
    pub last_accessed_at: Option<String>,
    #[schema(required = true)]
    pub last_action: Option<String>,
    #[schema(required = true)]
    pub last_actor_id: Option<String>,
    #[schema(required = true)]
    pub last_session_id: Option<String>,
    #[schema(required = true)]
    pub last_run_id: Option<String>,
    #[schema(value_type = Object)]
    pub actions: Map<String, Value>,
}

fn access() -> AccessStats {
    AccessStats {
        access_count: 0,
        metadata_access_count: 0,
        content_access_count: 0,
        preview_count: 0,
        download_count: 0,
        last_accessed_at: None,
        last_action: None,
        last_actor_id: None,
        last_session_id: None,
        last_run_id: None,
        actions: Map::new(),
    }
}

/// An artifact as stored (the history bundle lists these per ledger).
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactSummary {
    pub artifact_id: String,
    /// sha256 of the bytes.
    pub blob_id: String,
    pub run_id: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub created_at: String,
    /// The producer's tags (open object).
    #[schema(value_type = Object)]
    pub tags: Map<String, Value>,
    pub descriptor: Descriptor,
    /// The producer's metadata (open object).
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub access: AccessStats,
}

/// An artifact as stored.
pub fn artifact_summary(meta: &ArtifactMeta) -> ArtifactSummary {
    ArtifactSummary {
        artifact_id: meta.artifact_id.clone(),
        blob_id: meta.blob_id.clone(),
        run_id: meta.run_id.clone(),
        content_type: meta.content_type.clone(),
        size_bytes: meta.size_bytes,
        created_at: meta.created_at.clone(),
        tags: meta.tags.clone(),
        descriptor: descriptor(meta),
        metadata: meta.metadata.clone(),
        access: access(),
    }
}

/// Where a client finds an artifact and what it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactLinks {
    pub detail: String,
    pub content: String,
    pub preview: String,
    pub download: String,
    pub run_artifacts: String,
    pub ledger: String,
    pub history_bundle: String,
    pub run: String,
    pub observe_route: String,
}

fn links(meta: &ArtifactMeta) -> ArtifactLinks {
    let run = format!("/api/gateway/runs/{}", meta.run_id);
    let detail = format!("{run}/artifacts/{}", meta.artifact_id);
    ArtifactLinks {
        content: format!("{detail}/content"),
        preview: format!("{detail}/content?access=preview"),
        download: format!("{detail}/content?access=download"),
        run_artifacts: format!("{run}/artifacts"),
        ledger: format!("{run}/ledger"),
        history_bundle: format!("{run}/history_bundle"),
        observe_route: format!("#/observe/{}", meta.run_id),
        detail,
        run,
    }
}

const AVAILABLE_ACTIONS: [&str; 4] = ["preview", "download", "open_run", "open_ledger"];

fn available_actions() -> Vec<String> {
    AVAILABLE_ACTIONS.iter().map(|&a| a.to_owned()).collect()
}

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

/// What a client may do with an artifact.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvelopeActions {
    pub preview: bool,
    pub download: bool,
    pub open_run: bool,
    pub open_ledger: bool,
    pub open_provider_trace: bool,
}

/// The reference's `artifact_envelope_v1`: everything a client renders an artifact from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactEnvelope {
    pub schema: String,
    pub schema_version: u32,
    pub artifact_id: String,
    pub run_id: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub created_at: String,
    #[schema(required = true)]
    pub filename: Option<String>,
    #[schema(required = true)]
    pub source_path: Option<String>,
    pub sha256: String,
    pub semantic_kind: String,
    pub render_kind: String,
    pub modality: String,
    pub task: String,
    pub classification_source: String,
    #[schema(required = true)]
    pub session_id: Option<String>,
    #[schema(required = true)]
    pub workflow_id: Option<String>,
    #[schema(required = true)]
    pub node_id: Option<String>,
    #[schema(required = true)]
    pub step_id: Option<String>,
    #[schema(required = true)]
    pub effect_id: Option<String>,
    #[schema(required = true)]
    pub turn_id: Option<String>,
    #[schema(required = true)]
    pub ledger_cursor: Option<u64>,
    #[schema(required = true)]
    pub parent_run_id: Option<String>,
    #[schema(required = true)]
    pub actor_id: Option<String>,
    pub title: String,
    #[schema(value_type = Object)]
    pub tags: Map<String, Value>,
    pub descriptor: Descriptor,
    pub access: AccessStats,
    #[schema(value_type = Object)]
    pub media: Map<String, Value>,
    #[schema(value_type = Object)]
    pub generation: Map<String, Value>,
    #[schema(value_type = Object)]
    pub producer: Map<String, Value>,
    pub provenance: Provenance,
    pub source_refs: Vec<Value>,
    pub links: ArtifactLinks,
    pub actions: EnvelopeActions,
    pub available_actions: Vec<String>,
    pub provider_trace_available: bool,
    pub audit_available: bool,
    pub legacy_inferred: bool,
}

fn envelope(meta: &ArtifactMeta, descriptor: &Descriptor, title: &str) -> ArtifactEnvelope {
    let d = descriptor.clone();
    ArtifactEnvelope {
        schema: "abstractgateway.artifact_envelope.v1".into(),
        schema_version: 1,
        artifact_id: meta.artifact_id.clone(),
        run_id: meta.run_id.clone(),
        content_type: meta.content_type.clone(),
        size_bytes: meta.size_bytes,
        created_at: meta.created_at.clone(),
        filename: meta.filename.clone(),
        source_path: None,
        sha256: meta.sha256.clone(),
        semantic_kind: d.semantic_kind,
        render_kind: d.render_kind,
        modality: d.modality,
        task: d.task,
        classification_source: d.classification_source,
        session_id: d.session_id,
        workflow_id: d.workflow_id,
        node_id: d.node_id,
        step_id: d.step_id,
        effect_id: None,
        turn_id: None,
        ledger_cursor: None,
        parent_run_id: d.parent_run_id,
        actor_id: None,
        title: title.to_owned(),
        tags: meta.tags.clone(),
        descriptor: descriptor.clone(),
        access: access(),
        media: Map::new(),
        generation: Map::new(),
        producer: Map::new(),
        provenance: d.provenance,
        source_refs: Vec::new(),
        links: links(meta),
        actions: EnvelopeActions {
            preview: true,
            download: true,
            open_run: true,
            open_ledger: true,
            open_provider_trace: false,
        },
        available_actions: available_actions(),
        provider_trace_available: false,
        audit_available: false,
        legacy_inferred: true,
    }
}

/// A reference to an artifact, as a flow's values carry one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactRef {
    #[serde(rename = "$artifact")]
    #[schema(rename = "$artifact")]
    pub artifact: String,
    pub artifact_id: String,
    pub content_type: String,
    /// `image`, `audio`, `video`, `file` or `text`.
    pub modality: String,
    pub run_id: String,
    pub sha256: String,
}

/// One item of `GET /runs/{id}/artifacts`, also the body of `GET /runs/{id}/artifacts/{aid}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactItem {
    pub artifact_id: String,
    pub run_id: String,
    #[schema(required = true)]
    pub content_path: Option<String>,
    pub content_type: String,
    pub size_bytes: u64,
    pub created_at: String,
    #[schema(value_type = Object)]
    pub tags: Map<String, Value>,
    #[schema(required = true)]
    pub filename: Option<String>,
    #[schema(required = true)]
    pub source_path: Option<String>,
    pub sha256: String,
    pub modality: String,
    #[serde(rename = "ref")]
    pub reference: ArtifactRef,
    pub semantic_kind: String,
    pub render_kind: String,
    #[schema(required = true)]
    pub task: Option<String>,
    pub classification_source: String,
    #[schema(required = true)]
    pub session_id: Option<String>,
    #[schema(required = true)]
    pub workflow_id: Option<String>,
    #[schema(required = true)]
    pub node_id: Option<String>,
    #[schema(required = true)]
    pub step_id: Option<String>,
    #[schema(required = true)]
    pub effect_id: Option<String>,
    #[schema(required = true)]
    pub turn_id: Option<String>,
    #[schema(required = true)]
    pub ledger_cursor: Option<u64>,
    #[schema(required = true)]
    pub parent_run_id: Option<String>,
    #[schema(required = true)]
    pub actor_id: Option<String>,
    pub title: String,
    #[schema(value_type = Object)]
    pub media: Map<String, Value>,
    #[schema(value_type = Object)]
    pub generation: Map<String, Value>,
    #[schema(value_type = Object)]
    pub producer: Map<String, Value>,
    pub provenance: Provenance,
    pub source_refs: Vec<Value>,
    pub access: AccessStats,
    pub links: ArtifactLinks,
    pub available_actions: Vec<String>,
    pub provider_trace_available: bool,
    pub audit_available: bool,
    pub legacy_inferred: bool,
    /// The producer's metadata (open object).
    #[schema(value_type = Object)]
    pub raw_metadata: Map<String, Value>,
    pub descriptor: Descriptor,
    pub artifact_envelope_v1: ArtifactEnvelope,
}

/// One item of `GET /runs/{id}/artifacts`, also the body of `GET /runs/{id}/artifacts/{aid}`.
pub fn artifact_item(meta: &ArtifactMeta) -> ArtifactItem {
    let descriptor = descriptor(meta);
    let title = title(meta, &descriptor.semantic_kind);
    let artifact_envelope_v1 = envelope(meta, &descriptor, &title);
    let d = descriptor.clone();
    ArtifactItem {
        artifact_id: meta.artifact_id.clone(),
        run_id: meta.run_id.clone(),
        content_path: None,
        content_type: meta.content_type.clone(),
        size_bytes: meta.size_bytes,
        created_at: meta.created_at.clone(),
        tags: meta.tags.clone(),
        filename: meta.filename.clone(),
        source_path: None,
        sha256: meta.sha256.clone(),
        modality: d.modality,
        reference: ArtifactRef {
            artifact: meta.artifact_id.clone(),
            artifact_id: meta.artifact_id.clone(),
            content_type: meta.content_type.clone(),
            modality: ref_modality(&meta.content_type).into(),
            run_id: meta.run_id.clone(),
            sha256: meta.sha256.clone(),
        },
        semantic_kind: d.semantic_kind,
        render_kind: d.render_kind,
        task: None,
        classification_source: d.classification_source,
        session_id: d.session_id,
        workflow_id: d.workflow_id,
        node_id: d.node_id,
        step_id: d.step_id,
        effect_id: None,
        turn_id: None,
        ledger_cursor: None,
        parent_run_id: d.parent_run_id,
        actor_id: None,
        title,
        media: Map::new(),
        generation: Map::new(),
        producer: Map::new(),
        provenance: d.provenance,
        source_refs: Vec::new(),
        access: access(),
        links: links(meta),
        available_actions: available_actions(),
        provider_trace_available: false,
        audit_available: false,
        legacy_inferred: true,
        raw_metadata: meta.metadata.clone(),
        descriptor,
        artifact_envelope_v1,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
