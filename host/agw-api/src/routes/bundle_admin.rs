//! Changing the bundle catalog at runtime: upload, reload, and the refusal to delete.
//!
//! Uploads are validated completely before anything is written, stored under
//! `<data>/bundles/` (never in the operator's flows dir), and served after a catalog swap
//! without a restart.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use agw_domain::bundle::Bundle;
use agw_domain::run::FlowRef;
use agw_store::{BundleCatalog, UploadError};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

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

/// Whether the catalog serves exactly `bundle`, and if not, why.
fn served(state: &AppState, catalog: &BundleCatalog, bundle: &Bundle) -> (bool, Value) {
    let m = &bundle.manifest;
    let Some(loaded) = catalog.get(&m.bundle_id, Some(&m.bundle_version)) else {
        return (
            false,
            json!({"bundle_id": m.bundle_id, "bundle_version": m.bundle_version,
                              "skip_kind": "not_loaded", "reason": format!("{} was not loaded", bundle.bundle_ref())}),
        );
    };
    if loaded.bundle.sha256 != bundle.sha256 {
        return (
            false,
            json!({"bundle_id": m.bundle_id, "bundle_version": m.bundle_version, "skip_kind": "shadowed",
                              "reason": format!("another file ({}) provides {}", loaded.path.display(), bundle.bundle_ref())}),
        );
    }
    // Served means startable: every entrypoint compiles against the loaded plugins.
    for entry in &m.entrypoints {
        let flow = FlowRef {
            bundle_id: m.bundle_id.clone(),
            bundle_version: m.bundle_version.clone(),
            flow_id: entry.flow_id.clone(),
        };
        if let Err(reason) = state.workflows.compile(&flow) {
            return (
                false,
                json!({"bundle_id": m.bundle_id, "bundle_version": m.bundle_version,
                                  "skip_kind": "compile_failed",
                                  "reason": format!("flow '{}' cannot run: {reason}", entry.flow_id)}),
            );
        }
    }
    (true, Value::Null)
}

/// The reference's `reload` object for one in-place catalog swap.
fn reload_report(before: &BundleCatalog, after: &BundleCatalog, started: Instant) -> Value {
    let fingerprint = |c: &BundleCatalog| -> Vec<(String, String)> {
        c.all().map(|b| (b.bundle.bundle_ref(), b.bundle.sha256.clone())).collect()
    };
    let changed = fingerprint(before) != fingerprint(after);
    let ms = started.elapsed().as_millis() as u64;
    let services = if changed {
        let mut service = json!({
            "service": "default:default", "kind": "registry_swap", "duration_ms": ms, "ok": true,
            "reason": "workflows changed on disk", "bundle_count": after.latest().count(),
        });
        if !after.skipped.is_empty() {
            service["skipped_count"] = json!(after.skipped.len());
        }
        vec![service]
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
    json!({
        "ok": true,
        "kind": "registry_swap",
        "services": services,
        "unchanged_services": usize::from(!changed),
        "duration_ms": ms,
        "sentence": sentence,
    })
}

/// `POST /bundles/upload` (multipart: `file`, `overwrite` = false, `reload` = true).
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Value>> {
    let cap = state.config.max_upload_body_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|&n| n > cap) {
        return Err(payload_too_large(format!("Payload Too Large ({length} bytes > {cap} bytes)")));
    }
    let form = read_form(&state, multipart.map_err(|_| missing_file())?).await?;

    let work = state.clone();
    tokio::task::spawn_blocking(move || {
        let before = work.catalog.get();
        let installed = agw_store::install_upload(&work.bundle_sources, &before, &form.file, form.overwrite)
            .map_err(|error| match error {
                UploadError::Invalid(reason) => ApiError::bad_request(format!("Invalid bundle: {reason}")),
                e @ UploadError::AlreadyInstalled(_) => ApiError::bad_request(e.to_string()),
                e @ UploadError::Io { .. } => ApiError::internal(e),
            })?;
        let mut bundle = installed.bundle;
        // From here on only its manifest and digest are needed; the catalog reads its own
        // copy, so the flows go before the reload instead of doubling its peak.
        bundle.flows.clear();
        let (mut loaded, mut skipped, mut reloaded, mut reload_error, mut reload) =
            (Value::Null, Value::Null, false, Value::Null, Value::Null);
        if form.reload {
            let started = Instant::now();
            match work.catalog.reload(&work.bundle_sources) {
                Ok(after) => {
                    reload = reload_report(&before, &after, started);
                    reloaded = true;
                    let (ok, why) = served(&work, &after, &bundle);
                    (loaded, skipped) = (json!(ok), why);
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload after upload failed");
                    reload_error = json!("reload failed: cannot read the bundle directories");
                }
            }
        }
        let m = &bundle.manifest;
        let entrypoints: Vec<Value> = m
            .entrypoints
            .iter()
            .map(|e| json!({"flow_id": e.flow_id, "name": e.name, "description": e.description.clone().unwrap_or_default(), "interfaces": e.interfaces}))
            .collect();
        Ok(Json(json!({
            "ok": loaded != json!(false),
            "bundle_id": m.bundle_id,
            "bundle_version": m.bundle_version,
            "bundle_ref": bundle.bundle_ref(),
            "sha256": bundle.sha256,
            "default_entrypoint": m.default_entrypoint,
            "entrypoints": entrypoints,
            "gateway_reloaded": reloaded,
            "gateway_reload_error": reload_error,
            "loaded": loaded,
            "skipped": skipped,
            "reload": reload,
        })))
    })
    .await
    .map_err(ApiError::internal)?
}

/// `POST /bundles/reload`: serve the bundle directories as they are on disk now.
pub async fn reload(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let before = state.catalog.get();
        let after = state.catalog.reload(&state.bundle_sources).map_err(ApiError::internal)?;
        let ids: Vec<&str> = after.latest().map(|b| b.bundle.manifest.bundle_id.as_str()).collect();
        let mut answer = json!({ "ok": true, "bundle_ids": ids, "count": ids.len() });
        if !after.skipped.is_empty() {
            let skipped: Vec<Value> =
                after.skipped.iter().map(|s| json!({"path": s.path, "reason": s.reason})).collect();
            answer["skipped_count"] = json!(skipped.len());
            answer["skipped"] = Value::Array(skipped);
        }
        answer["reload"] = reload_report(&before, &after, started);
        Ok(Json(answer))
    })
    .await
    .map_err(ApiError::internal)?
}

/// `DELETE /bundles/{id}`: the reference never deletes a workflow (past runs keep pointing at
/// it) and answers 410 Gone.
pub async fn remove() -> Response {
    let detail = json!({
        "reason_code": "workflow_delete_gone",
        "message": "Workflows are archived, never deleted: use Archive.",
    });
    (StatusCode::GONE, Json(json!({ "detail": detail }))).into_response()
}
