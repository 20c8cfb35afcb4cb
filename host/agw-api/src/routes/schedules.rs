//! `POST /runs/schedule`: a scheduled parent run that launches a flow as child runs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use agw_domain::env::iso;
use agw_domain::run::{NewRun, RunState};
use agw_domain::schedule::{IntervalError, Schedule, check_interval, visual_flow};

use super::runs::{input_data, object_body, resolve, session_id};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::fields::optional_str;

#[utoipa::path(
    post,
    path = "/runs/schedule",
    tag = "runs",
    summary = "Start a scheduled parent run that launches a flow as child runs",
    request_body = crate::schema::ScheduleRunRequest,
    responses(
        (status = 200, description = "The scheduled parent run", body = crate::schema::StartAnswer),
        (status = 400, description = "A malformed interval, inconsistent repeat settings, neither flow nor bundle, or a flow that cannot run", body = crate::schema::ErrorDetail),
        (status = 404, description = "No such bundle or flow", body = crate::schema::ErrorDetail),
        (status = 422, description = "A body that is not a JSON object, or a field of the wrong type or value", body = crate::schema::ValidationError),
    ),
)]
pub async fn schedule(State(state): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let body = object_body(&body)?;
    let input_data = input_data(&body)?;
    let session_id = session_id(&body)?;
    let now = state.env.now();
    let interval = optional_text(&body, "interval")?;
    let step = match &interval {
        None => None,
        Some(text) => Some(match check_interval(text) {
            Ok(interval) => interval,
            // The reference's answer to a malformed interval.
            Err(IntervalError::Malformed) => {
                return Err(ApiError::bad_request(
                    "Invalid interval: invalid interval (expected like '15m', '1h', '2d')",
                ));
            }
            Err(too_long @ IntervalError::TooLong) => {
                return Err(invalid_value(&body, "interval", &too_long.to_string()));
            }
        }),
    };
    let start = match optional_text(&body, "start_at")?.as_deref() {
        None | Some("now") => None,
        Some(text) => Some(parse_time(&body, "start_at", text)?),
    };
    let repeat_until = match optional_text(&body, "repeat_until")? {
        None => None,
        Some(text) => Some(parse_time(&body, "repeat_until", &text)?),
    };
    let mut repeat_count = match body.get("repeat_count") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_i64() {
            Some(n) if n >= 1 => Some(n as u64),
            Some(_) => return Err(ApiError::bad_request("repeat_count must be >= 1")),
            None => return Err(invalid_value(&body, "repeat_count", "repeat_count must be an integer")),
        },
    };
    if repeat_count.is_some_and(|n| n > 1) && step.is_none() {
        return Err(ApiError::bad_request("repeat_count > 1 requires interval"));
    }
    if let Some(until) = repeat_until {
        if repeat_count.is_some() {
            return Err(ApiError::bad_request("repeat_until cannot be combined with repeat_count"));
        }
        let Some(step) = step else { return Err(ApiError::bad_request("repeat_until requires interval")) };
        let first = start.unwrap_or(now);
        if until < first {
            return Err(ApiError::bad_request("repeat_until must be >= start_at"));
        }
        let span = (until - first).num_milliseconds();
        repeat_count = Some(1 + (span / step.num_milliseconds().max(1)) as u64);
    }
    // One launch needs no interval.
    let interval = if repeat_count == Some(1) { None } else { interval };
    let share_context = body.get("share_context").and_then(Value::as_bool).unwrap_or(true);

    let resolved = resolve(&state, &body)?;
    let target = resolved.flow.clone();
    state
        .workflows
        .compile(&target)
        .map_err(|reason| ApiError::bad_request(format!("Workflow '{}' cannot run: {reason}", target.workflow_id())))?;

    let run_id = uuid::Uuid::new_v4().to_string();
    let workspace = state.data_dir.join("workspaces").join(&run_id);
    std::fs::create_dir_all(&workspace).map_err(ApiError::internal)?;
    let mut run = RunState::new(NewRun {
        run_id: run_id.clone(),
        flow: target.clone(),
        input_data,
        session_id,
        parent_run_id: None,
        workspace_root: workspace.display().to_string(),
        entry_node: "start".into(),
        now: iso(now),
    });
    run.workflow_id = format!("scheduled:{}", uuid::Uuid::new_v4());
    run.schedule = Some(Schedule {
        kind: "scheduled_run".into(),
        interval,
        repeat_count,
        repeat_until: repeat_until.map(iso),
        start_at: start.map(iso),
        share_context,
        target_workflow_id: target.workflow_id(),
        target_bundle_ref: format!("{}@{}", target.bundle_id, target.bundle_version),
        target_flow_id: target.flow_id.clone(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        updated_at: None,
        launched: 0,
        target,
    });
    let (store, artifacts) = (state.store.clone(), state.artifacts.clone());
    tokio::task::spawn_blocking(move || {
        agw_store::store_flow_snapshot(&artifacts, &run.run_id, &run.flow, &visual_flow())
            .map_err(ApiError::internal)?;
        store.create_run(&run).map_err(ApiError::from)
    })
    .await
    .map_err(ApiError::internal)??;
    state.runner.wake_run(&run_id);
    tracing::info!(run_id = %run_id, target = %resolved.flow.workflow_id(), "schedule created");
    Ok(Json(json!({ "run_id": run_id, "runner_warning": null, "resolved_workflow": resolved.view() })))
}

fn optional_text(body: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    Ok(optional_str(body, &["body"], key)?.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

fn parse_time(body: &Map<String, Value>, key: &str, text: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid_value(body, key, &format!("{key} must be \"now\" or an ISO 8601 time with a timezone")))
}

fn invalid_value(body: &Map<String, Value>, key: &str, message: &str) -> ApiError {
    ApiError::invalid(
        "value_error",
        &["body", key],
        &format!("Value error, {message}"),
        body.get(key).cloned().unwrap_or(Value::Null),
    )
}
