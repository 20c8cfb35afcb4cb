//! Changing the bundle catalog at runtime: upload, reload, and the refusal to delete.
//!
//! Uploads are validated completely before anything is written, stored under
//! `<data>/bundles/` (never in the operator's flows dir), and served after a catalog swap
//! without a restart.

use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use agw_app::{Reloaded, Uploaded};
use agw_store::BundleCatalog;

use crate::AppState;
use crate::bundle_views::SkippedFile;
use crate::error::{ApiError, ApiResult};
use crate::schema::{BundleUploadForm, ErrorDetail, Reason, ReasonDetail, ValidationError};

fn payload_too_large(detail: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
}

fn missing_file() -> ApiError {
    ApiError::invalid("missing", &["body", "file"], "Field required", Value::Null)
}

/// A multipart problem: over the body cap is a 413, anything else a malformed request.
fn multipart_error(state: &AppState, error: &axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        payload_too_large(format!("Payload Too Large (more than {} bytes)", state.config.max_upload_body_bytes))
    } else {
        ApiError::bad_request(format!("Invalid multipart body: {}", error.body_text()))
    }
}

/// A form boolean as FastAPI reads one.
fn form_bool(name: &str, raw: &str) -> ApiResult<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ApiError::invalid(
            "bool_parsing",
            &["body", name],
            "Input should be a valid boolean, unable to interpret input",
            Value::String(raw.to_owned()),
        )),
    }
}

/// Reads the file field, stopping as soon as it passes the bundle cap.
async fn read_file(state: &AppState, mut field: Field<'_>) -> ApiResult<Vec<u8>> {
    let max = state.config.max_bundle_bytes;
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(state, &e))? {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(payload_too_large(format!("Bundle too large (more than {max} bytes)")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// What the form said.
struct UploadForm {
    file: Vec<u8>,
    overwrite: bool,
    reload: bool,
}

async fn read_form(state: &AppState, mut multipart: Multipart) -> ApiResult<UploadForm> {
    let (mut file, mut overwrite, mut reload) = (None, false, true);
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(state, &e))? {
        match field.name() {
            Some("file") => file = Some(read_file(state, field).await?),
            Some(name @ ("overwrite" | "reload")) => {
                let name = name.to_owned();
                let text = field.text().await.map_err(|e| multipart_error(state, &e))?;
                let value = form_bool(&name, &text)?;
                if name == "overwrite" { overwrite = value } else { reload = value }
            }
            // Unknown fields are ignored, as FastAPI does (multer skips what is not read).
            _ => {}
        }
    }
    Ok(UploadForm { file: file.ok_or_else(missing_file)?, overwrite, reload })
}

/// Why an uploaded bundle is not served.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadSkip {
    pub bundle_id: String,
    pub bundle_version: String,
    /// `not_loaded`, `shadowed` or `compile_failed`.
    pub skip_kind: String,
    pub reason: String,
}

/// One service a reload touched.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadService {
    /// Always `default:default`.
    pub service: String,
    /// Always `registry_swap`.
    pub kind: String,
    pub duration_ms: u64,
    pub ok: bool,
    pub reason: String,
    /// Bundles served after the swap.
    pub bundle_count: usize,
    /// Files not loaded, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_count: Option<usize>,
}

/// The reference's `reload` object: what one in-place catalog swap did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadReport {
    pub ok: bool,
    /// Always `registry_swap`.
    pub kind: String,
    /// Empty when nothing changed on disk.
    pub services: Vec<ReloadService>,
    pub unchanged_services: usize,
    pub duration_ms: u64,
    /// What happened, for a person.
    pub sentence: String,
}

/// The reference's `reload` object for one in-place catalog swap.
fn reload_report(Reloaded { before, after, took }: &Reloaded) -> ReloadReport {
    let fingerprint = |c: &BundleCatalog| -> Vec<(String, String)> {
        c.all().map(|b| (b.bundle.bundle_ref(), b.bundle.sha256.clone())).collect()
    };
    let changed = fingerprint(before) != fingerprint(after);
    let ms = took.as_millis() as u64;
    let services = if changed {
        vec![ReloadService {
            service: "default:default".into(),
            kind: "registry_swap".into(),
            duration_ms: ms,
            ok: true,
            reason: "workflows changed on disk".into(),
            bundle_count: after.latest().count(),
            skipped_count: (!after.skipped.is_empty()).then_some(after.skipped.len()),
        }]
    } else {
        Vec::new()
    };
    let sentence = if changed {
        format!(
            "Workflows updated in place on 1 service in {ms} ms. Nothing was restarted: loaded models, \
             prompt caches and running runs were not touched."
        )
    } else {
        "Nothing changed on disk; no service was touched.".to_owned()
    };
    ReloadReport {
        ok: true,
        kind: "registry_swap".into(),
        services,
        unchanged_services: usize::from(!changed),
        duration_ms: ms,
        sentence,
    }
}

/// One entrypoint of an uploaded bundle, as its manifest says.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadEntrypoint {
    pub flow_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    pub description: String,
    /// Interface tags (open).
    pub interfaces: Vec<Value>,
}

/// What `POST /bundles/upload` installed and whether it is served.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadAnswer {
    /// False when the bundle was installed but is not served (see `skipped`).
    pub ok: bool,
    pub bundle_id: String,
    pub bundle_version: String,
    pub bundle_ref: String,
    pub sha256: String,
    #[schema(required = true)]
    pub default_entrypoint: Option<String>,
    pub entrypoints: Vec<UploadEntrypoint>,
    /// Whether the catalog was reloaded.
    pub gateway_reloaded: bool,
    #[schema(required = true)]
    pub gateway_reload_error: Option<String>,
    /// Whether the bundle is served; null without a reload.
    #[schema(required = true)]
    pub loaded: Option<bool>,
    /// Why it is not served.
    #[schema(required = true)]
    pub skipped: Option<UploadSkip>,
    /// The reload's report; null without a reload.
    #[schema(required = true)]
    pub reload: Option<ReloadReport>,
}

/// `POST /bundles/upload` (multipart: `file`, `overwrite` = false, `reload` = true).
#[utoipa::path(
    post,
    path = "/bundles/upload",
    tag = "bundles",
    summary = "Install a .flow bundle",
    request_body(content = BundleUploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Installed (and, with `reload`, served unless `skipped` says why)", body = UploadAnswer),
        (status = 400, description = "Not a valid bundle, already installed, or a malformed multipart body", body = ErrorDetail),
        (status = 413, description = "Over the upload or bundle size cap", body = ErrorDetail),
        (status = 422, description = "No `file` field, or a form boolean that does not parse", body = ValidationError),
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<UploadAnswer>> {
    let cap = state.config.max_upload_body_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|&n| n > cap) {
        return Err(payload_too_large(format!("Payload Too Large ({length} bytes > {cap} bytes)")));
    }
    let form = read_form(&state, multipart.map_err(|_| missing_file())?).await?;

    let (overwrite, reload) = (form.overwrite, form.reload);
    let Uploaded { bundle, reload, served } = state.call(move |app| app.upload(&form.file, overwrite, reload)).await?;
    let m = &bundle.manifest;
    let entrypoints = m
        .entrypoints
        .iter()
        .map(|e| UploadEntrypoint {
            flow_id: e.flow_id.clone(),
            name: e.name.clone(),
            description: e.description.clone().unwrap_or_default(),
            interfaces: e.interfaces.clone(),
        })
        .collect();
    let loaded = served.as_ref().map(Result::is_ok);
    Ok(Json(UploadAnswer {
        ok: loaded != Some(false),
        bundle_id: m.bundle_id.clone(),
        bundle_version: m.bundle_version.clone(),
        bundle_ref: bundle.bundle_ref(),
        sha256: bundle.sha256.clone(),
        default_entrypoint: m.default_entrypoint.clone(),
        entrypoints,
        gateway_reloaded: matches!(reload, Some(Ok(_))),
        gateway_reload_error: reload.as_ref().and_then(|r| r.as_ref().err().cloned()),
        loaded,
        skipped: served.and_then(Result::err).map(|not| UploadSkip {
            bundle_id: m.bundle_id.clone(),
            bundle_version: m.bundle_version.clone(),
            skip_kind: not.kind.into(),
            reason: not.reason,
        }),
        reload: reload.and_then(Result::ok).as_ref().map(reload_report),
    }))
}

/// `POST /bundles/reload`: the catalog after a re-scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadAnswer {
    /// Always true.
    pub ok: bool,
    /// The ids of the bundles served now.
    pub bundle_ids: Vec<String>,
    pub count: usize,
    /// Files not loaded, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_count: Option<usize>,
    /// The files not loaded and why, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Vec<SkippedFile>>,
    pub reload: ReloadReport,
}

/// `POST /bundles/reload`: serve the bundle directories as they are on disk now.
#[utoipa::path(
    post,
    path = "/bundles/reload",
    tag = "bundles",
    summary = "Serve the bundle directories as they are on disk now",
    responses((status = 200, description = "The catalog after the re-scan", body = ReloadAnswer)),
)]
pub async fn reload(State(state): State<AppState>) -> ApiResult<Json<ReloadAnswer>> {
    let reloaded = state.call(|app| app.reload_bundles()).await?;
    let after = &reloaded.after;
    let bundle_ids: Vec<String> = after.latest().map(|b| b.bundle.manifest.bundle_id.clone()).collect();
    let skipped: Vec<SkippedFile> = after.skipped.iter().map(SkippedFile::from).collect();
    Ok(Json(ReloadAnswer {
        ok: true,
        count: bundle_ids.len(),
        bundle_ids,
        skipped_count: (!skipped.is_empty()).then_some(skipped.len()),
        skipped: (!skipped.is_empty()).then_some(skipped),
        reload: reload_report(&reloaded),
    }))
}

/// `DELETE /bundles/{id}`: the reference never deletes a workflow (past runs keep pointing at
/// it) and answers 410 Gone.
#[utoipa::path(
    delete,
    path = "/bundles/{bundle_id}",
    tag = "bundles",
    summary = "Refused: workflows are archived, never deleted",
    params(("bundle_id" = String, Path, description = "The bundle")),
    responses((status = 410, description = "Always: workflows are never deleted", body = ReasonDetail)),
)]
pub async fn remove() -> Response {
    let detail = ReasonDetail {
        detail: Reason {
            reason_code: "workflow_delete_gone".into(),
            message: "Workflows are archived, never deleted: use Archive.".into(),
        },
    };
    (StatusCode::GONE, Json(detail)).into_response()
}
