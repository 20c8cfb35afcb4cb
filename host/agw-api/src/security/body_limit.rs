//! Rule 6: a write body over `ABSTRACTGATEWAY_MAX_BODY_BYTES` gets 413.
//!
//! A declared `Content-Length` is judged before a byte is read. A body without one (chunked)
//! is read up to the limit, holding a concurrency slot, and refused as soon as it passes it. Uploads have their own, larger
//! cap (`MAX_BUNDLE_BYTES` plus the multipart envelope): the declared length is judged here
//! against that cap, and the route enforces it while it streams the multipart body.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use super::{Access, Guard, concurrency, reject};

const UPLOAD_PATH: &str = "/api/gateway/bundles/upload";

pub(super) async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !guard.guards(path) || Access::of(request.method()) != Access::Write {
        return next.run(request).await;
    }
    let upload = path.trim_end_matches('/') == UPLOAD_PATH;
    let limit = if upload { guard.upload_cap } else { guard.policy.max_body_bytes };
    if limit == 0 {
        return next.run(request).await;
    }
    match request.headers().get(header::CONTENT_LENGTH) {
        Some(declared) => match declared.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(length) if length > limit => too_large(length, limit),
            _ => next.run(request).await,
        },
        None if upload => next.run(request).await,
        None => {
            // Reading happens before the concurrency layer, so it takes its slot here: the
            // bodies held in memory are bounded like the requests in flight.
            let slot = match concurrency::acquire(&guard).await {
                Ok(slot) => slot,
                Err(refused) => return refused,
            };
            match read_limited(request, limit).await {
                Ok(mut request) => {
                    request.extensions_mut().insert(slot);
                    next.run(request).await
                }
                Err(response) => response,
            }
        }
    }
}

fn too_large(size: u64, limit: u64) -> Response {
    reject(StatusCode::PAYLOAD_TOO_LARGE, &format!("Payload Too Large ({size} bytes > {limit} bytes)"), &[])
}

/// Reads a body of unknown length, refusing it once it passes `limit`, and hands the
/// request on with the bytes read.
async fn read_limited(request: Request, limit: u64) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(|_| reject(StatusCode::BAD_REQUEST, "Cannot read the request body", &[]))?;
        let size = (buffer.len() + chunk.len()) as u64;
        if size > limit {
            return Err(too_large(size, limit));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Request::from_parts(parts, Body::from(buffer)))
}
