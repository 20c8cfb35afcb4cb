//! Starting runs: a client's start and a schedule. Both resolve the flow the request names
//! against the catalog the reference's way, check that it compiles, and create the run
//! through [`Runs`](crate::Runs).

use std::sync::Arc;

use agw_domain::env::iso;
use agw_domain::run::FlowRef;
use agw_domain::schedule::{IntervalError, Schedule, check_interval, visual_flow};
use agw_store::{BundleCatalog, LoadedBundle};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::runs::Birth;
use crate::workflows::Workflows;

/// Which flow a request names, as the client wrote it: `bundle_id` (`id` or `id@version`),
/// `bundle_version`, and `flow_id` (a flow id, `bundle:flow` or `bundle@version:flow`).
#[derive(Debug, Clone, Default)]
pub struct FlowChoice {
    pub bundle_id: Option<String>,
    pub bundle_version: Option<String>,
    pub flow_id: Option<String>,
}

/// `POST /runs/start`.
#[derive(Debug, Clone, Default)]
pub struct StartRun {
    pub flow: FlowChoice,
    pub input_data: Map<String, Value>,
    /// `None` or empty: the run's own id.
    pub session_id: Option<String>,
}

/// `POST /runs/schedule`: a scheduled parent run that launches the flow as child runs.
#[derive(Debug, Clone)]
pub struct ScheduleRun {
    pub flow: FlowChoice,
    pub input_data: Map<String, Value>,
    pub session_id: Option<String>,
    /// `None`, empty or `now`: at once; else an ISO 8601 time with a timezone.
    pub start_at: Option<String>,
    /// `15m`, `1h`, `2d`...; `None`: one launch.
    pub interval: Option<String>,
    pub repeat_count: Option<i64>,
    pub repeat_until: Option<String>,
    /// Launches share the parent's session (default) or get their own.
    pub share_context: bool,
}

/// The flow a start resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFlow {
    pub flow: FlowRef,
    /// The entrypoint's name, else the flow id.
    pub name: String,
}

/// A run that was created.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub run_id: String,
    pub resolved: ResolvedFlow,
}

/// A resolved flow and the bundle it is in, shared with the catalog: the run's snapshot is
/// written from it, so resolving never copies the flow.
struct Resolved {
    flow: ResolvedFlow,
    bundle: Arc<LoadedBundle>,
}

impl Resolved {
    fn flow_json(&self) -> Option<&Value> {
        self.bundle.bundle.flows.get(&self.flow.flow.flow_id)
    }
}

impl App {
    /// Starts a run of the flow `request` names. Its `on_event` listeners start with it.
    pub fn start(&self, request: StartRun) -> AppResult<Started> {
        let resolved = resolve(&self.catalog.bundles().get(), &request.flow)?;
        let compiled = self.compile(&resolved.flow.flow)?;
        let run_id = uuid::Uuid::new_v4().to_string();
        let (mut run, made) = self.runs.initial(Birth {
            run_id: run_id.clone(),
            flow: resolved.flow.flow.clone(),
            input_data: request.input_data,
            session_id: request.session_id.filter(|s| !s.is_empty()),
            parent_run_id: None,
            entry_node: compiled.entry.clone(),
        });
        made.map_err(AppError::internal)?;
        run.start_listeners(&compiled, self.env.as_ref());
        self.runs.create(&run, resolved.flow_json())?;
        self.wake.run(&run_id);
        tracing::info!(run_id = %run_id, workflow_id = %run.workflow_id, "run started");
        Ok(Started { run_id, resolved: resolved.flow })
    }

    /// Creates a scheduled parent run that launches the flow `request` names.
    pub fn schedule(&self, request: ScheduleRun) -> AppResult<Started> {
        let now = self.env.now();
        let plan = SchedulePlan::check(&request, now)?;
        let resolved = resolve(&self.catalog.bundles().get(), &request.flow)?;
        let target = resolved.flow.flow.clone();
        self.compile(&target)?;
        let run_id = uuid::Uuid::new_v4().to_string();
        let (mut run, made) = self.runs.initial(Birth {
            run_id: run_id.clone(),
            flow: target.clone(),
            input_data: request.input_data,
            session_id: request.session_id.filter(|s| !s.is_empty()),
            parent_run_id: None,
            entry_node: "start".into(),
        });
        made.map_err(AppError::internal)?;
        run.workflow_id = format!("scheduled:{}", uuid::Uuid::new_v4());
        run.schedule = Some(Schedule {
            kind: "scheduled_run".into(),
            interval: plan.interval,
            repeat_count: plan.repeat_count,
            repeat_until: plan.repeat_until.map(iso),
            start_at: plan.start.map(iso),
            share_context: request.share_context,
            target_workflow_id: target.workflow_id(),
            target_bundle_ref: format!("{}@{}", target.bundle_id, target.bundle_version),
            target_flow_id: target.flow_id.clone(),
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            updated_at: None,
            launched: 0,
            target,
        });
        // The scheduler's own flow is what this run executes.
        self.runs.create(&run, Some(&visual_flow()))?;
        self.wake.run(&run_id);
        tracing::info!(run_id = %run_id, target = %resolved.flow.flow.workflow_id(), "schedule created");
        Ok(Started { run_id, resolved: resolved.flow })
    }

    fn compile(&self, flow: &FlowRef) -> AppResult<Arc<agw_domain::CompiledFlow>> {
        self.catalog
            .compile(flow)
            .map_err(|reason| AppError::Refused(format!("Workflow '{}' cannot run: {reason}", flow.workflow_id())))
    }
}

/// A schedule's timing, checked.
struct SchedulePlan {
    interval: Option<String>,
    start: Option<DateTime<Utc>>,
    repeat_count: Option<u64>,
    repeat_until: Option<DateTime<Utc>>,
}

impl SchedulePlan {
    fn check(request: &ScheduleRun, now: DateTime<Utc>) -> AppResult<Self> {
        let text =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let interval = text(&request.interval);
        let step = match &interval {
            None => None,
            Some(raw) => Some(match check_interval(raw) {
                Ok(step) => step,
                // The reference's answer to a malformed interval.
                Err(IntervalError::Malformed) => {
                    return Err(AppError::Refused(
                        "Invalid interval: invalid interval (expected like '15m', '1h', '2d')".into(),
                    ));
                }
                Err(too_long @ IntervalError::TooLong) => {
                    return Err(AppError::value_error(&["interval"], &too_long.to_string(), raw.as_str().into()));
                }
            }),
        };
        let time = |key: &str, raw: &str| {
            DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                AppError::value_error(
                    &[key],
                    &format!("{key} must be \"now\" or an ISO 8601 time with a timezone"),
                    raw.into(),
                )
            })
        };
        let start = match text(&request.start_at).as_deref() {
            None | Some("now") => None,
            Some(raw) => Some(time("start_at", raw)?),
        };
        let repeat_until = text(&request.repeat_until).map(|raw| time("repeat_until", &raw)).transpose()?;
        let mut repeat_count = match request.repeat_count {
            None => None,
            Some(n) => Some(
                u64::try_from(n)
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| AppError::Refused("repeat_count must be >= 1".into()))?,
            ),
        };
        if repeat_count.is_some_and(|n| n > 1) && step.is_none() {
            return Err(AppError::Refused("repeat_count > 1 requires interval".into()));
        }
        if let Some(until) = repeat_until {
            if repeat_count.is_some() {
                return Err(AppError::Refused("repeat_until cannot be combined with repeat_count".into()));
            }
            let Some(step) = step else { return Err(AppError::Refused("repeat_until requires interval".into())) };
            let first = start.unwrap_or(now);
            if until < first {
                return Err(AppError::Refused("repeat_until must be >= start_at".into()));
            }
            let span = (until - first).num_milliseconds();
            repeat_count = Some(1 + (span / step.num_milliseconds().max(1)) as u64);
        }
        // One launch needs no interval.
        let interval = if repeat_count == Some(1) { None } else { interval };
        Ok(Self { interval, start, repeat_count, repeat_until })
    }
}

/// `id@version` → (`id`, `version`); a bare id has no version.
fn split_ref(raw: &str) -> (String, Option<String>) {
    match raw.split_once('@') {
        Some((id, ver)) => (id.to_owned(), Some(ver.to_owned()).filter(|v| !v.is_empty())),
        None => (raw.to_owned(), None),
    }
}

/// Resolves the flow a request names the way the reference does.
fn resolve(catalog: &BundleCatalog, choice: &FlowChoice) -> AppResult<Resolved> {
    let text = |value: &Option<String>| value.clone().filter(|s| !s.is_empty());
    let (mut bundle_id, mut version, mut flow_id) =
        (text(&choice.bundle_id), text(&choice.bundle_version), text(&choice.flow_id));
    if let Some((id, Some(ref_version))) = bundle_id.as_deref().map(split_ref) {
        if version.as_ref().is_some_and(|v| v != &ref_version) {
            return Err(AppError::Refused(
                "bundle_version conflicts with bundle_id (bundle_id already includes '@version')".into(),
            ));
        }
        (bundle_id, version) = (Some(id), Some(ref_version));
    }
    if let Some(full) = flow_id.clone()
        && let Some((bundle_part, flow_part)) = full.split_once(':')
    {
        let (id, ver) = split_ref(bundle_part);
        bundle_id = Some(id);
        version = ver.or(version);
        flow_id = Some(flow_part.to_owned());
    }
    let Some(bundle_id) = bundle_id else {
        return Err(AppError::Refused(
            "flow_id is required (or provide bundle_id to start a bundle entrypoint)".into(),
        ));
    };
    let loaded = catalog.get(&bundle_id, version.as_deref()).ok_or_else(|| match &version {
        Some(v) if catalog.get(&bundle_id, None).is_some() => {
            AppError::NotFound(format!("Bundle '{bundle_id}@{v}' not found"))
        }
        _ => AppError::NotFound(format!("Bundle '{bundle_id}' not found")),
    })?;
    let bundle = &loaded.bundle;
    let flow_id = match flow_id {
        Some(id) => id,
        None => bundle.default_flow_id().map(str::to_owned).ok_or_else(|| {
            AppError::Refused(format!(
                "Bundle '{}' has several entrypoints and no default_entrypoint; flow_id is required",
                bundle.bundle_ref()
            ))
        })?,
    };
    if !bundle.flows.contains_key(&flow_id) {
        return Err(AppError::NotFound(format!("Workflow '{}:{flow_id}' not found", bundle.bundle_ref())));
    }
    let name = bundle.manifest.entrypoint(&flow_id).and_then(|e| e.name.clone()).unwrap_or_else(|| flow_id.clone());
    let flow = FlowRef {
        bundle_id: bundle.manifest.bundle_id.clone(),
        bundle_version: bundle.manifest.bundle_version.clone(),
        flow_id,
    };
    Ok(Resolved { flow: ResolvedFlow { flow, name }, bundle: Arc::clone(loaded) })
}
