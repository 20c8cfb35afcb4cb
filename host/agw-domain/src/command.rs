//! Durable commands sent to runs through the inbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Command types the gateway knows, in the order the reference lists them in its 400 answer.
pub const KNOWN_TYPES: &[&str] = &[
    "pause",
    "resume",
    "cancel",
    "conclude",
    "emit_event",
    "update_schedule",
    "compact_memory",
    "inject_guidance",
    "automation.revise",
    "automation.pause",
    "automation.resume",
    "automation.run_now",
    "automation.stop_current",
    "automation.archive",
    "automation.unarchive",
];

/// One accepted command, as stored in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub seq: u64,
    pub command_id: String,
    pub run_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Value,
    pub ts: String,
    pub client_id: Option<String>,
}

/// A command as submitted, before the inbox assigns its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCommand {
    pub command_id: String,
    pub run_id: String,
    pub kind: String,
    pub payload: Value,
    pub ts: String,
    pub client_id: Option<String>,
}

impl NewCommand {
    pub fn with_seq(self, seq: u64) -> Command {
        Command {
            seq,
            command_id: self.command_id,
            run_id: self.run_id,
            kind: self.kind,
            payload: self.payload,
            ts: self.ts,
            client_id: self.client_id,
        }
    }
}

/// What the inbox answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub seq: u64,
    pub duplicate: bool,
}
