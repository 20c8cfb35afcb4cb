//! How a wait ends: a resume with a payload, a timer coming due, and the listener runs a
//! run starts with. The run side of what [`super::effects`] begins.

use serde_json::{Map, Value, json};

use super::effects::EffectKind;
use super::{CompiledFlow, NodeKind};
use crate::run::{RunState, RunStatus, Spawn, Wait};

impl RunState {
    /// Starts one listener child run per `on_event` node that is not the flow's entry, as
    /// the reference does when a run starts: each waits for its event and runs its branch
    /// while the main run goes its own way.
    pub fn start_listeners(&mut self, flow: &CompiledFlow, env: &dyn crate::Env) {
        let sanitize = |text: &str| {
            let mut out = String::new();
            for c in text.chars() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    out.push(c);
                } else if !out.ends_with('_') {
                    out.push('_');
                }
            }
            out
        };
        let listeners: Vec<String> = flow
            .nodes()
            .iter()
            .filter(|n| n.kind == NodeKind::Effect(EffectKind::OnEvent) && n.id != flow.entry)
            .map(|n| n.id.clone())
            .collect();
        for node in listeners {
            let workflow_id = format!("visual_event_listener_{}_{}", sanitize(&self.workflow_id), sanitize(&node));
            self.spawn(Spawn {
                run_id: env.new_id(),
                flow: self.flow.clone(),
                input_data: Map::new(),
                session_id: self.session_id.clone(),
                entry_node: Some(node),
                workflow_id: Some(workflow_id),
            });
        }
    }

    /// Resumes the wait with `payload`, journaling the resume. A paused run gets its result
    /// and stays paused (on the synthetic pause wait) until `resume` unpauses it.
    pub fn resume_wait(&mut self, payload: Value, env: &dyn crate::Env) -> bool {
        let (Some(wait), Some(step)) = (self.waiting.clone(), self.exec.wait_step.clone()) else { return false };
        if wait.is_pause() {
            return false;
        }
        let at = env.now_iso();
        let record_payload = json!({
            "wait_reason": wait.reason,
            "wait_key": wait.wait_key,
            "resume_to_node": step.resume_to_node,
            "result_key": step.result_key,
            "payload": payload,
        });
        let record = self.record_ctx().resumed(env.new_id(), &step.node_id, record_payload, &at);
        self.outbox.push(record);
        self.exec.resumed = Some(payload);
        self.land(at);
        true
    }

    /// Wakes an `until` wait whose time has come. As in the reference, this journals nothing.
    pub fn wake_timer(&mut self, env: &dyn crate::Env) -> bool {
        if !self.is_due(env.now()) {
            return false;
        }
        self.exec.resumed = Some(Value::Object(Map::new()));
        self.land(env.now_iso());
        true
    }

    /// The wait is over: run on, or stay parked on the pause wait when paused.
    fn land(&mut self, now: String) {
        if self.paused {
            self.waiting = Some(Wait::pause(&self.run_id));
        } else {
            self.status = RunStatus::Running;
            self.waiting = None;
        }
        self.updated_at = now;
    }
}
