//! `GET /runs/{id}/ledger/stream`: the ledger as server-sent events.
//!
//! Frames are `id: <cursor>` / `event: step` / `data: {"cursor", "record"}`, written as the
//! reference writes them. The stream reads the ledger as the run's checkpoint committed it,
//! so `done` comes right after the final record and `done.cursor` always equals the final
//! ledger length (the reference can send `done` a record or two early).

use agw_app::Progress;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};

use crate::query::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::ApiResult;
use crate::pyjson;
use crate::replay_views::CursorRecord;
use crate::schema::{ErrorDetail, ValidationError};

const PAGE: usize = 500;

/// What ended a wait for news.
enum Woke {
    /// Records may have been appended (or it is time to look, or to say we are alive).
    Ledger,
    /// A live LLM frame of this run, ready to send.
    Live(String),
}

/// Where a stream starts and how often it says it is alive.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Records already consumed; when absent or 0, `Last-Event-ID` resumes.
    after: Option<u64>,
    /// Seconds of silence before a `: keep-alive` comment (0.1 to 300, default 5).
    heartbeat_s: Option<f64>,
}

/// The data of the `event: done` frame: the run is terminal and every record was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoneFrame {
    pub run_id: String,
    /// The ledger's final length.
    pub cursor: u64,
    /// Always `terminal`.
    pub status: String,
}

/// The stream's description in the OpenAPI document.
const STREAM_DESCRIPTION: &str = "`text/event-stream`. Each record is a frame `id: <cursor>` / \
`event: step` / `data: <CursorRecord JSON>`; `: keep-alive` comments after `heartbeat_s` of silence; \
while a run started with `input_data._runtime.stream: true` streams an LLM call, live frames \
`event: llm.delta` / `event: llm.delta_end` with no `id:` (never persisted: the ledger holds the whole \
answer); \
when the run is terminal and every record is sent, `event: done` / `data: <DoneFrame JSON>` (no `id:`), \
then the stream closes.";

#[utoipa::path(
    get,
    path = "/runs/{run_id}/ledger/stream",
    tag = "ledger",
    summary = "A run's ledger as server-sent events",
    params(
        ("run_id" = String, Path, description = "The run"),
        StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "The last cursor received, to resume"),
    ),
    responses(
        (status = 200, description = STREAM_DESCRIPTION, content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run (plain JSON, before the stream opens)", body = ErrorDetail),
        (status = 422, description = "A query value that does not parse", body = ValidationError),
        (status = 429, description = "Over the SSE stream cap (`retry-after: 1`)", body = ErrorDetail),
    ),
)]
pub async fn stream(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // Streams have their own cap (`ABSTRACTGATEWAY_MAX_SSE`); the permit lives as long as the
    // stream does, so it comes back when the client leaves, the run ends or the server stops.
    let Ok(permit) = state.sse_permits.clone().try_acquire_owned() else {
        let retry = (header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(crate::security::reject(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests (concurrency limit)",
            &[retry],
        ));
    };
    let id = run_id.clone();
    state.call(move |app| app.run(&id)).await?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let mut cursor: u64 = match query.after {
        Some(n) if n > 0 => n,
        _ => last_event_id.unwrap_or(0),
    };
    let heartbeat = query
        .heartbeat_s
        .filter(|s| s.is_finite())
        .map(|s| Duration::from_secs_f64(s.clamp(0.1, 300.0)))
        .unwrap_or(state.config.heartbeat);
    let poll = state.config.poll;
    let mut appended = state.runner.subscribe();
    let mut shutdown = state.shutdown.clone();
    let (open_calls, mut live) = state.live.subscribe(&run_id);

    let body = async_stream::stream! {
        let _permit = permit;
        let mut last_sent = Instant::now();
        for frame in open_calls {
            yield Ok::<Bytes, Infallible>(Bytes::from(frame.sse()));
        }
        let mut live_open = true;
        'stream: loop {
            // The run first, then its ledger as that state committed it: when the state is
            // terminal, this read already reaches the final record.
            let id = run_id.clone();
            let (run, records) = match state.call(move |app| app.progress(&id, cursor, PAGE)).await {
                Ok(Some(Progress { run, records })) => (run, records),
                Ok(None) => break 'stream,
                Err(e) => {
                    tracing::error!(run_id = %run_id, status = %e.status, "SSE cannot read the run or its ledger");
                    break 'stream;
                }
            };
            let full_page = records.len() == PAGE;
            for record in records {
                cursor += 1;
                let data = pyjson::to_string(&CursorRecord { cursor, record });
                yield Ok(Bytes::from(format!("id: {cursor}\nevent: step\ndata: {data}\n\n")));
                last_sent = Instant::now();
            }
            if full_page {
                continue;
            }
            if run.status.is_terminal() && cursor >= run.committed_ledger_len() {
                let data = pyjson::to_string(&DoneFrame { run_id: run_id.clone(), cursor, status: "terminal".into() });
                yield Ok(Bytes::from(format!("event: done\ndata: {data}\n\n")));
                break 'stream;
            }
            // Wait for records (or a heartbeat, or the end); live LLM frames are sent as they
            // come, without reading the ledger again.
            loop {
                let until_heartbeat = heartbeat.saturating_sub(last_sent.elapsed());
                // Records first: a call's end is published after the checkpoint that
                // journaled its answer, so when both are ready the records go out first.
                let woke = tokio::select! {
                    biased;
                    _ = appended.recv() => Woke::Ledger,
                    frame = live.recv(), if live_open => match frame {
                        Ok(frame) if frame.concerns(&run_id) => Woke::Live(frame.sse()),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => {
                            live_open = false;
                            continue;
                        }
                    },
                    _ = tokio::time::sleep(poll.min(until_heartbeat)) => Woke::Ledger,
                    _ = shutdown.changed() => break 'stream,
                };
                if *shutdown.borrow() {
                    break 'stream;
                }
                match woke {
                    Woke::Live(frame) => {
                        yield Ok(Bytes::from(frame));
                        last_sent = Instant::now();
                    }
                    Woke::Ledger => break,
                }
            }
            if last_sent.elapsed() >= heartbeat {
                yield Ok(Bytes::from_static(b": keep-alive\n\n"));
                last_sent = Instant::now();
            }
        }
    };

    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
