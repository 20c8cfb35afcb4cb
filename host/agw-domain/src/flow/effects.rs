//! Effectful nodes: durable waits, events and subflows.
//!
//! An effectful step journals a `started` record and then its end under the same step id:
//! `completed` when it finishes at once (an event emitted, a timer already due), `waiting`
//! when the run must wait. A waiting run keeps its cursor on the node; the command or timer
//! that resumes it leaves the payload in [`ExecState::resumed`], and the next tick re-enters
//! the node, which turns the payload into its outputs and moves on.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::compile::CNode;
use super::exec::{Interp, Result, Step, failure, obj};
use super::value::{number, py_str};
use crate::command::{NewCommand, event_key};
use crate::env::{far_future, iso, later};
use crate::record::{Effect, StepStatus};
use crate::run::{FlowRef, Spawn, Wait, WaitReason};

/// The engine's effectful node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    WaitEvent,
    OnEvent,
    WaitUntil,
    OnSchedule,
    AskUser,
    AnswerUser,
    EmitEvent,
    PublishEvent,
    Subflow,
    LlmCall,
}

impl EffectKind {
    pub fn builtin(node_type: &str) -> Option<Self> {
        Some(match node_type {
            "wait_event" => Self::WaitEvent,
            "on_event" => Self::OnEvent,
            "wait_until" => Self::WaitUntil,
            "on_schedule" => Self::OnSchedule,
            "ask_user" => Self::AskUser,
            "answer_user" => Self::AnswerUser,
            "emit_event" => Self::EmitEvent,
            "publish_event" => Self::PublishEvent,
            "subflow" => Self::Subflow,
            "llm_call" => Self::LlmCall,
            _ => return None,
        })
    }
}

/// The node a waiting run waits at, and where its result goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitStep {
    pub node_id: String,
    pub resume_to_node: Option<String>,
    pub result_key: String,
}

impl Interp<'_> {
    pub(super) fn effect_step(&mut self, node: &CNode, kind: EffectKind) -> Result<Step> {
        if self.exec().wait_step.as_ref().is_some_and(|w| w.node_id == node.id) {
            self.exec().wait_step = None;
            let payload = self.exec().resumed.take().unwrap_or(Value::Null);
            let outputs = resumed_outputs(node, kind, payload);
            self.effect_output(node, outputs);
            if matches!(kind, EffectKind::OnEvent) || (kind == EffectKind::OnSchedule && self.recurrent(node)?) {
                // A listener: when its branch ends, control comes back and it waits again.
                self.exec().frames.push(super::exec::Frame::Listen { node: node.id.clone() });
            }
            return self.follow(node, "exec-out");
        }
        match kind {
            EffectKind::WaitEvent => self.wait_event(node),
            EffectKind::OnEvent => self.on_event(node),
            EffectKind::WaitUntil => self.wait_until(node),
            EffectKind::OnSchedule => self.on_schedule(node),
            EffectKind::AskUser => self.ask_user(node),
            EffectKind::AnswerUser => self.answer_user(node),
            EffectKind::EmitEvent => self.emit(node),
            EffectKind::PublishEvent => {
                let payload = json!({ "type": "publish_event", "resume_to_node": self.resume_to(node) });
                let started = self.started(node, "publish_event", payload);
                Err(effect_failure(
                    node,
                    started,
                    "publish_event is not available on this host (no publish_event handler is registered)",
                ))
            }
            EffectKind::Subflow => self.subflow(node),
            EffectKind::LlmCall => self.llm_call(node),
        }
    }

    /// Effect nodes never change the ambient: their outputs are reachable through edges only.
    pub(super) fn effect_output(&mut self, node: &CNode, outputs: Map<String, Value>) {
        self.exec().outputs.insert(node.id.clone(), Value::Object(outputs));
    }

    pub(super) fn text_input(&mut self, node: &CNode, pin: &str) -> Result<Option<String>> {
        Ok(self.exec_input(node, pin)?.filter(|v| !v.is_null()).map(|v| py_str(&v)))
    }

    /// A setting from a wired or defaulted pin, else from `data.<config>` under one of `keys`.
    pub(super) fn setting(&mut self, node: &CNode, config: &str, keys: &[&str]) -> Result<Option<String>> {
        for key in keys {
            if let Some(text) = self.text_input(node, key)?.filter(|t| !t.trim().is_empty()) {
                return Ok(Some(text));
            }
        }
        let section = node.data.get(config);
        Ok(keys.iter().find_map(|k| {
            section.and_then(|c| c.get(*k)).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_owned)
        }))
    }

    pub(super) fn resume_to(&self, node: &CNode) -> Option<String> {
        self.flow.next(&node.id, "exec-out").map(|n| n.id.clone())
    }

    /// The id an event scope is keyed by for this run.
    fn scope_id(&self, scope: &str) -> String {
        match scope {
            "run" => self.run.run_id.clone(),
            "workflow" => self.run.workflow_id.clone(),
            "global" => "global".into(),
            _ => self.run.session_id.clone(),
        }
    }

    fn wait_event(&mut self, node: &CNode) -> Result<Step> {
        let key = self.text_input(node, "event_key")?.unwrap_or_else(|| "default".into());
        let prompt = self.text_input(node, "prompt")?.filter(|p| !p.trim().is_empty());
        let choices = match self.exec_input(node, "choices")? {
            Some(Value::Array(items)) => Some(Value::Array(
                items.iter().map(py_str).filter(|c| !c.trim().is_empty()).map(Value::String).collect(),
            )),
            _ => None,
        };
        let allow_free_text = self.allow_free_text(node)?;
        let details = match self.exec_input(node, "details")? {
            Some(Value::Object(map)) if !map.is_empty() => Some(Value::Object(map)),
            _ => None,
        };
        let mut payload = json!({ "type": "wait_event", "wait_key": key });
        let map = payload.as_object_mut().expect("an object literal");
        if let Some(prompt) = &prompt {
            map.insert("prompt".into(), json!(prompt));
        }
        if let Some(choices) = &choices {
            map.insert("choices".into(), choices.clone());
        }
        map.insert("allow_free_text".into(), json!(allow_free_text));
        if let Some(details) = &details {
            map.insert("details".into(), details.clone());
        }
        let wait = Wait { prompt, choices, allow_free_text, details, ..Wait::event(key) };
        Ok(self.begin_wait(node, "wait_event", payload, wait))
    }

    fn allow_free_text(&mut self, node: &CNode) -> Result<bool> {
        for pin in ["allow_free_text", "allowFreeText"] {
            if let Some(Value::Bool(b)) = self.exec_input(node, pin)? {
                return Ok(b);
            }
        }
        let config = node.data.get("effectConfig").and_then(|c| c.get("allowFreeText"));
        Ok(config.and_then(Value::as_bool).unwrap_or(true))
    }

    fn on_event(&mut self, node: &CNode) -> Result<Step> {
        let name = self.setting(node, "eventConfig", &["name", "event_name"])?.unwrap_or_else(|| "*".into());
        let scope = self.setting(node, "eventConfig", &["scope"])?.map(|s| s.to_lowercase());
        let scope = scope.filter(|s| SCOPES.contains(&s.as_str())).unwrap_or_else(|| "session".into());
        let key = event_key(&scope, &self.scope_id(&scope), &name);
        let payload = json!({ "scope": scope, "name": name });
        Ok(self.begin_wait(node, "wait_event", payload, Wait::event(key)))
    }

    fn ask_user(&mut self, node: &CNode) -> Result<Step> {
        let prompt = match self.exec_input(node, "prompt")? {
            None => "Please respond:".to_owned(),
            Some(value) => py_str(&value),
        };
        let choices = match self.exec_input(node, "choices")? {
            Some(Value::Array(items)) => Value::Array(items),
            _ => json!([]),
        };
        let allow_free_text = self.allow_free_text(node)?;
        let payload = json!({
            "type": "ask_user", "prompt": prompt, "choices": choices, "allow_free_text": allow_free_text,
        });
        if prompt.trim().is_empty() || prompt == "None" {
            let started = self.started(node, "ask_user", payload);
            return Err(effect_failure(
                node,
                started,
                "Effect failed after 1 attempts: ask_user requires payload.prompt",
            ));
        }
        let wait = Wait {
            reason: WaitReason::User,
            wait_key: Some(format!("user:{}:{}", self.run.run_id, node.id)),
            prompt: Some(prompt),
            choices: Some(choices),
            allow_free_text,
            ..Wait::event(String::new())
        };
        Ok(self.begin_wait(node, "ask_user", payload, wait))
    }

    fn answer_user(&mut self, node: &CNode) -> Result<Step> {
        let message = self.text_input(node, "message")?.unwrap_or_default();
        let level = self.text_input(node, "level")?.unwrap_or_default().to_lowercase();
        let level = match level.as_str() {
            "warn" | "warning" => "warning",
            "error" => "error",
            _ => "message",
        };
        let payload = json!({ "type": "answer_user", "message": message, "level": level, "resume_to_node": self.resume_to(node) });
        let result = json!({ "message": message, "level": level });
        self.instant(node, "answer_user", payload, result.clone());
        self.effect_output(node, obj(result));
        self.follow(node, "exec-out")
    }

    fn wait_until(&mut self, node: &CNode) -> Result<Step> {
        let now = self.env.now();
        let unit = node.data.get("effectConfig").and_then(|c| c.get("durationType")).and_then(Value::as_str);
        let until = if unit == Some("timestamp") {
            let text = self.text_input(node, "duration")?.unwrap_or_default();
            match parse_time(&text) {
                Some(until) => until,
                None => {
                    let payload =
                        json!({ "type": "wait_until", "until": text, "resume_to_node": self.resume_to(node) });
                    let started = self.started(node, "wait_until", payload);
                    let message = format!(
                        "Effect failed after 1 attempts: wait_until payload.until is not a valid ISO timestamp: '{text}'"
                    );
                    return Err(effect_failure(node, started, message));
                }
            }
        } else {
            let scale = match unit.unwrap_or("seconds") {
                "minutes" => 60.0,
                "hours" => 3600.0,
                _ => 1.0,
            };
            let raw = self.exec_input(node, "duration")?;
            // No duration at all is no wait; one that is not a number, or that would end after
            // the last time the gateway can write (9999-12-31), fails the step.
            let seconds = match &raw {
                None => Some(0.0),
                Some(value) => number(value).map(|n| n.max(0.0) * scale).filter(|s| s.is_finite()),
            };
            let until =
                seconds.map(|s| now.checked_add_signed(millis(s))).and_then(|t| t.filter(|t| *t < far_future()));
            match until {
                Some(until) => until,
                None => {
                    let raw = raw.unwrap_or(Value::Null);
                    let payload =
                        json!({ "type": "wait_until", "duration": raw, "resume_to_node": self.resume_to(node) });
                    let started = self.started(node, "wait_until", payload);
                    let shown = match &raw {
                        Value::String(text) => format!("'{text}'"),
                        Value::Null => "None".to_owned(),
                        other => py_str(other),
                    };
                    let unit = unit.unwrap_or("seconds");
                    let problem = match seconds {
                        None => format!("is not a number of {unit}: {shown}"),
                        Some(_) => format!("is too long: {shown} {unit} would end after 9999-12-31"),
                    };
                    let message = format!("Effect failed after 1 attempts: wait_until duration {problem}");
                    return Err(effect_failure(node, started, message));
                }
            }
        };
        let payload = json!({ "type": "wait_until", "until": iso(until), "resume_to_node": self.resume_to(node) });
        self.sleep(node, until, payload)
    }

    /// `on_schedule`: an interval (`"15s"`, `"1.5m"`, `"500ms"`) from now, or an ISO time.
    /// The scheduled-run flow's waits read the run's own schedule instead.
    fn on_schedule(&mut self, node: &CNode) -> Result<Step> {
        let now = self.env.now();
        let until = match self.schedule_time(node, now) {
            Some(until) => until,
            None => {
                let text = self.setting(node, "eventConfig", &["schedule"])?.unwrap_or_else(|| "15s".into());
                match interval(&text).map(|d| later(now, d)).or_else(|| parse_time(&text)) {
                    Some(until) => until,
                    None => return Err(failure(node, format!("on_schedule: invalid schedule '{text}'"))),
                }
            }
        };
        self.sleep(node, until, json!({ "until": iso(until) }))
    }

    fn recurrent(&mut self, node: &CNode) -> Result<bool> {
        if self.run.schedule.is_some() && node.data.contains_key("schedule") {
            return Ok(false);
        }
        Ok(match self.exec_input(node, "recurrent")? {
            Some(Value::Bool(b)) => b,
            _ => node.data.get("eventConfig").and_then(|c| c.get("recurrent")).and_then(Value::as_bool).unwrap_or(true),
        })
    }

    /// Waits until `until`, or journals a ready timer and moves on when it is already due.
    fn sleep(&mut self, node: &CNode, until: DateTime<Utc>, payload: Value) -> Result<Step> {
        if until <= self.env.now() {
            let result = json!({ "until": iso(until), "ready": true });
            self.instant(node, "wait_until", payload, result.clone());
            let mut outputs = obj(result);
            if node.node_type == "on_schedule" {
                outputs.extend(obj(json!({ "timestamp": null, "recurrent": false })));
            }
            self.effect_output(node, outputs);
            return self.follow(node, "exec-out");
        }
        let wait =
            Wait { reason: WaitReason::Until, wait_key: None, until: Some(iso(until)), ..Wait::event(String::new()) };
        Ok(self.begin_wait(node, "wait_until", payload, wait))
    }

    /// `until` for the scheduled-run flow's waits.
    fn schedule_time(&self, node: &CNode, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let schedule = self.run.schedule.as_ref()?;
        match node.data.get("schedule").and_then(Value::as_str)? {
            "start" => Some(schedule.start_at.as_deref().and_then(parse_time).unwrap_or(now)),
            "interval" => Some(schedule.next_launch(now)),
            _ => None,
        }
    }

    fn emit(&mut self, node: &CNode) -> Result<Step> {
        let Some(name) = self.setting(node, "effectConfig", &["name", "event_name"])? else {
            return Err(failure(node, "emit_event requires an event name"));
        };
        let scope = self.setting(node, "effectConfig", &["scope"])?.map(|s| s.to_lowercase());
        let scope = scope.filter(|s| SCOPES.contains(&s.as_str())).unwrap_or_else(|| "session".into());
        let session = self.setting(node, "effectConfig", &["session_id", "sessionId"])?;
        let payload = match self.exec_input(node, "payload")? {
            None | Some(Value::Null) => json!({}),
            Some(Value::Object(map)) => Value::Object(map),
            Some(other) => json!({ "value": other }),
        };
        let scope_id = match scope.as_str() {
            "session" => session.clone().unwrap_or_else(|| self.run.session_id.clone()),
            other => self.scope_id(other),
        };
        let count = self.exec().event_seq.entry(node.id.clone()).or_insert(Value::from(0u64));
        let n = count.as_u64().unwrap_or(0) + 1;
        *count = Value::from(n);
        let event_id = format!("{}:{}:{n}", self.run.run_id, node.id);
        let wait_key = event_key(&scope, &scope_id, &name);
        let mut effect_payload = json!({
            "scope": scope, "name": name, "payload": payload, "event_id": event_id, "max_steps": 0,
        });
        if let Some(session) = &session {
            effect_payload["session_id"] = json!(session);
        }
        // Delivery goes through the durable inbox, so the step records the event as queued
        // rather than who it woke (see ARCHITECTURE.md, "Events").
        let result =
            json!({ "wait_key": wait_key, "name": name, "scope": scope, "event_id": event_id, "queued": true });
        let step_id = self.instant(node, "emit_event", effect_payload, result.clone());
        self.effect_output(node, obj(result));
        let session_for_envelope = match scope.as_str() {
            "session" => json!(scope_id),
            _ => json!(session),
        };
        self.run.sends.push(NewCommand {
            command_id: format!("emit:{}:{step_id}", self.run.run_id),
            run_id: self.run.session_id.clone(),
            kind: "emit_event".into(),
            payload: json!({
                "name": name,
                "scope": scope,
                "session_id": session_for_envelope,
                "workflow_id": self.run.workflow_id,
                "run_id": self.run.run_id,
                "payload": payload,
                "event_id": event_id,
                "emitted_at": self.env.now_iso(),
                "emitter": { "run_id": self.run.run_id, "workflow_id": self.run.workflow_id, "node_id": node.id },
            }),
            ts: self.env.now_iso(),
            client_id: None,
        });
        self.follow(node, "exec-out")
    }

    fn subflow(&mut self, node: &CNode) -> Result<Step> {
        let scheduled = self.run.schedule.is_some() && node.data.get("schedule").is_some();
        let (target, mut vars) = match self.run.schedule.as_mut() {
            Some(schedule) if scheduled => {
                schedule.launched += 1;
                (schedule.target.clone(), self.run.input_data.clone())
            }
            _ => (self.subflow_target(node)?, self.subflow_inputs(node)?),
        };
        let mut session = self.run.session_id.clone();
        for key in ["child_session_id", "childSessionId", "session_id", "sessionId"] {
            if let Some(Value::String(s)) = vars.remove(key)
                && !s.trim().is_empty()
            {
                session = s;
            }
        }
        vars.remove("inherit_context");
        let child = self.env.new_id();
        let workflow_id = target.workflow_id();
        self.run.spawn(Spawn {
            run_id: child.clone(),
            flow: target,
            input_data: vars.clone(),
            session_id: session,
            entry_node: None,
            workflow_id: None,
        });
        let wait = Wait {
            reason: WaitReason::Subworkflow,
            wait_key: Some(format!("subworkflow:{child}")),
            details: Some(json!({
                "sub_run_id": child, "sub_workflow_id": workflow_id, "async": true, "include_traces": false,
            })),
            ..Wait::event(String::new())
        };
        let payload = json!({
            "type": "start_subworkflow", "workflow_id": workflow_id, "vars": vars, "async": true, "wait": true,
        });
        Ok(self.begin_wait(node, "start_subworkflow", payload, wait))
    }

    /// The flow a `subflow` node calls: `bundle@version:flow`, `bundle:flow` (the newest
    /// version, or this run's when it is this bundle) or a flow id of this run's bundle.
    fn subflow_target(&mut self, node: &CNode) -> Result<FlowRef> {
        let named = ["subflowId", "flowId", "workflowId", "workflow_id"]
            .iter()
            .find_map(|k| node.data.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned));
        let Some(named) = named else {
            return Err(failure(node, "subflow names no flow (data.subflowId)"));
        };
        let own = &self.run.flow;
        Ok(match named.split_once(':') {
            Some((bundle, flow)) => match bundle.split_once('@') {
                Some((id, version)) => {
                    FlowRef { bundle_id: id.into(), bundle_version: version.into(), flow_id: flow.into() }
                }
                None => FlowRef {
                    bundle_version: if bundle == own.bundle_id { own.bundle_version.clone() } else { String::new() },
                    bundle_id: bundle.into(),
                    flow_id: flow.into(),
                },
            },
            None => FlowRef { flow_id: named, ..own.clone() },
        })
    }

    /// A subflow child's `input_data`: each declared data input pin that has a value (plus
    /// the contents of a `vars`/`input` object pin); with no declared pins, the whole
    /// resolved input, ambient included.
    fn subflow_inputs(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let mut vars = Map::new();
        if node.data_inputs.is_empty() {
            vars = self.exec().ambient.clone();
            for pin in self.flow.connected_inputs(&node.id).into_iter().map(str::to_owned).collect::<Vec<_>>() {
                if let Some(value) = self.exec_input(node, &pin)? {
                    vars.insert(pin, value);
                }
            }
            return Ok(vars);
        }
        for pin in &node.data_inputs {
            match (pin.as_str(), self.exec_input(node, pin)?) {
                ("vars" | "input", Some(Value::Object(map))) => vars.extend(map),
                (_, Some(value)) => {
                    vars.insert(pin.clone(), value);
                }
                (_, None) => {}
            }
        }
        Ok(vars)
    }

    /// An effectful plugin node: called, then journaled as a `plugin_node` step naming the
    /// plugin that did the work (and the fuel it burned, when metered). A failure closes the
    /// step with `failed`.
    pub(super) fn plugin_step(&mut self, node: &CNode) -> Result<Step> {
        let provider = self.executor.provenance(&node.node_type);
        let called = self.call_plugin(node);
        let Some(plugin) = provider else {
            let outputs = called?;
            self.produce(node, outputs);
            return self.follow(node, "exec-out");
        };
        let payload = json!({ "node_type": node.node_type, "plugin": plugin });
        match called {
            Ok(outputs) => {
                let mut result = json!({ "outputs": outputs });
                if let Some(fuel) = self.executor.last_fuel() {
                    result["fuel"] = json!(fuel);
                }
                self.instant(node, "plugin_node", payload, result);
                self.produce(node, outputs);
                self.follow(node, "exec-out")
            }
            Err(mut failure) => {
                failure.effect = Some(Box::new(self.started(node, "plugin_node", payload)));
                Err(failure)
            }
        }
    }

    /// A `started` record for an effect that is about to fail.
    pub(super) fn started(&mut self, node: &CNode, kind: &str, payload: Value) -> crate::record::StepRecord {
        let effect = Effect { kind: kind.into(), payload, result_key: Some(result_key(node)) };
        self.run.record_ctx().effect_started(self.env.new_id(), &node.id, effect, &self.env.now_iso())
    }

    /// Journals a step that completes at once; returns its step id.
    pub(super) fn instant(&mut self, node: &CNode, kind: &str, payload: Value, result: Value) -> String {
        let started = self.started(node, kind, payload);
        let done = self.run.record_ctx().effect_ended(&started, StepStatus::Completed, result, &self.env.now_iso());
        let step_id = started.step_id.clone();
        self.run.outbox.extend([started, done]);
        step_id
    }

    /// Journals `started` and `waiting` for `node` and parks the run on `wait`. Payloads
    /// that carry a `type` also carry `resume_to_node`, as the reference writes them.
    fn begin_wait(&mut self, node: &CNode, kind: &str, mut payload: Value, wait: Wait) -> Step {
        let resume_to = self.resume_to(node);
        if let Value::Object(map) = &mut payload
            && !map.contains_key("resume_to_node")
            && (map.contains_key("type") || node.node_type == "on_event")
        {
            map.insert("resume_to_node".into(), json!(resume_to));
        }
        let key = result_key(node);
        let started = self.started(node, kind, payload);
        let result = json!({ "wait": {
            "reason": wait.reason,
            "wait_key": wait.wait_key,
            "until": wait.until,
            "resume_to_node": resume_to,
            "result_key": key,
            "prompt": wait.prompt,
            "choices": wait.choices,
            "allow_free_text": wait.allow_free_text,
            "details": wait.details,
        }});
        let waiting = self.run.record_ctx().effect_ended(&started, StepStatus::Waiting, result, &self.env.now_iso());
        self.run.outbox.extend([started, waiting]);
        self.exec().wait_step = Some(WaitStep { node_id: node.id.clone(), resume_to_node: resume_to, result_key: key });
        self.exec().cursor = Some(node.id.clone());
        Step::Wait(wait)
    }
}

const SCOPES: &[&str] = &["session", "workflow", "run", "global"];

pub(super) fn result_key(node: &CNode) -> String {
    format!("_temp.effects.{}", node.id)
}

pub(super) fn effect_failure(
    node: &CNode,
    started: crate::record::StepRecord,
    message: impl Into<String>,
) -> super::exec::Failure {
    super::exec::Failure {
        node_id: node.id.clone(),
        message: message.into(),
        effect: Some(Box::new(started)),
        journaled: false,
    }
}

fn millis(seconds: f64) -> Duration {
    Duration::milliseconds((seconds * 1000.0).clamp(0.0, 1e15) as i64)
}

/// An ISO 8601 time; `Z` and a missing offset both mean UTC.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
}

/// `on_schedule`'s interval grammar: a number and `ms`, `s`, `m`, `h` or `d`.
fn interval(text: &str) -> Option<Duration> {
    let text = text.trim().to_lowercase();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = (text[..split].trim(), text[split..].trim());
    let value: f64 = number.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return None,
    };
    Some(millis(seconds))
}

/// What a resumed node outputs on its pins.
fn resumed_outputs(node: &CNode, kind: EffectKind, payload: Value) -> Map<String, Value> {
    match kind {
        EffectKind::WaitEvent => obj(json!({ "event_data": payload })),
        EffectKind::OnEvent => obj(json!({
            "event": payload,
            "payload": payload.get("payload").cloned().unwrap_or(Value::Null),
            "event_id": payload.get("event_id").cloned().unwrap_or(Value::Null),
            "name": payload.get("name").cloned().unwrap_or(Value::Null),
        })),
        EffectKind::AskUser => {
            let mut outputs = obj(payload.clone());
            outputs.insert("response".into(), payload.get("response").cloned().unwrap_or(Value::Null));
            outputs
        }
        EffectKind::Subflow => {
            let child_out = payload.get("output").cloned().unwrap_or(Value::Null);
            let output = match child_out.get("result") {
                Some(result) => result.clone(),
                None => child_out.clone(),
            };
            let mut outputs = Map::new();
            let pins: Vec<&String> = node.data_outputs.iter().filter(|p| p.as_str() != "output").collect();
            for pin in &pins {
                let value = match &output {
                    Value::Object(map) => map.get(pin.as_str()).cloned().unwrap_or(Value::Null),
                    other if pins.len() == 1 => other.clone(),
                    _ => Value::Null,
                };
                outputs.insert((*pin).clone(), value);
            }
            outputs.insert("sub_run_id".into(), payload.get("sub_run_id").cloned().unwrap_or(Value::Null));
            outputs.insert("output".into(), output);
            outputs.insert("child_output".into(), child_out);
            outputs
        }
        // Timers woken after a real wait output nothing, as in the reference.
        EffectKind::WaitUntil | EffectKind::OnSchedule => obj(json!({ "until": null, "ready": null })),
        EffectKind::AnswerUser | EffectKind::EmitEvent | EffectKind::PublishEvent | EffectKind::LlmCall => Map::new(),
    }
}
