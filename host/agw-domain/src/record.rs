//! Ledger step records, field for field as the reference journals them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The status of one step record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Started,
    Completed,
    Waiting,
    Failed,
    Cancelled,
}

/// What an effectful step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Value,
    pub result_key: Option<String>,
}

/// One append-only ledger record. Field order is the reference's, so serialized records
/// compare byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub run_id: String,
    pub step_id: String,
    pub node_id: String,
    pub status: StepStatus,
    pub effect: Option<Effect>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub actor_id: String,
    pub session_id: String,
    pub attempt: u32,
    pub idempotency_key: Option<String>,
    pub prev_hash: Option<String>,
    pub record_hash: Option<String>,
    pub signature: Option<String>,
}

/// The identity shared by every record of one run.
#[derive(Debug, Clone)]
pub struct RecordCtx<'a> {
    pub run_id: &'a str,
    pub actor_id: &'a str,
    pub session_id: &'a str,
}

impl RecordCtx<'_> {
    fn record(&self, step_id: String, node_id: &str, status: StepStatus, at: &str) -> StepRecord {
        StepRecord {
            run_id: self.run_id.to_owned(),
            step_id,
            node_id: node_id.to_owned(),
            status,
            effect: None,
            result: None,
            error: None,
            started_at: at.to_owned(),
            ended_at: Some(at.to_owned()),
            actor_id: self.actor_id.to_owned(),
            session_id: self.session_id.to_owned(),
            attempt: 1,
            idempotency_key: None,
            prev_hash: None,
            record_hash: None,
            signature: None,
        }
    }

    /// The record the reference writes when a flow reaches its end node.
    pub fn completion(&self, step_id: String, end_node: &str, output: &Value, at: &str) -> StepRecord {
        let mut rec = self.record(step_id, end_node, StepStatus::Completed, at);
        rec.result = Some(json!({ "completed": true, "output": output }));
        rec.idempotency_key = Some(format!("system:completion:{end_node}"));
        rec
    }

    /// The record that closes every terminal run: an `abstract.status` event.
    pub fn terminal_status(&self, step_id: String, node_id: &str, status: &str, at: &str) -> StepRecord {
        let mut rec = self.record(step_id, node_id, StepStatus::Completed, at);
        rec.effect = Some(Effect {
            kind: "emit_event".into(),
            payload: json!({ "name": "abstract.status", "scope": "session", "payload": { "text": status } }),
            result_key: None,
        });
        rec.result = Some(json!({ "emitted": true, "name": "abstract.status", "payload": { "text": status } }));
        rec.idempotency_key = Some(format!("system:terminal_status:{status}"));
        rec
    }

    /// A step that failed: the node and the reason.
    pub fn failure(&self, step_id: String, node_id: &str, error: &str, at: &str) -> StepRecord {
        let mut rec = self.record(step_id, node_id, StepStatus::Failed, at);
        rec.error = Some(error.to_owned());
        rec
    }

    /// The `started` record of an effectful step. Its terminal record shares the step id and
    /// idempotency key.
    pub fn effect_started(&self, step_id: String, node_id: &str, effect: Effect, at: &str) -> StepRecord {
        let mut rec = self.record(step_id, node_id, StepStatus::Started, at);
        rec.idempotency_key = Some(idempotency_key(self.run_id, node_id, &rec.step_id));
        rec.effect = Some(effect);
        rec.ended_at = None;
        rec
    }

    /// The record that closes an effectful step begun by `started`.
    pub fn effect_ended(&self, started: &StepRecord, status: StepStatus, result: Value, at: &str) -> StepRecord {
        StepRecord { status, result: Some(result), ended_at: Some(at.to_owned()), ..started.clone() }
    }

    /// The record of a wait being resumed with `payload`.
    pub fn resumed(&self, step_id: String, node_id: &str, payload: Value, at: &str) -> StepRecord {
        let mut rec = self.record(step_id, node_id, StepStatus::Completed, at);
        rec.effect = Some(Effect { kind: "resume".into(), payload, result_key: None });
        rec.result = Some(json!({ "resumed": true }));
        rec
    }
}

/// A stable 32-hex key for one effectful step, so a retried step is recognisable.
fn idempotency_key(run_id: &str, node_id: &str, step_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{run_id}:{node_id}:{step_id}"));
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
