//! Live LLM text: the in-process hub between a run's streamed calls and its SSE readers.
//!
//! The runner publishes each piece of streamed text ([`Delta::Text`]) and each call's end; a
//! stream of a run receives the frames of that run and of its children, as `event: llm.delta`
//! / `event: llm.delta_end` frames with no `id:` (they are not part of the ledger cursor).
//! A reader that joins while a call is open first gets one frame with the text so far.
//! Nothing here is durable: losing a delta loses a live preview, never an answer, since the
//! ledger holds the whole text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use agw_domain::llm::{CallRef, Delta, DeltaSink};
use serde::Serialize;
use tokio::sync::broadcast;

/// Frames a slow reader may fall behind before it skips ahead (it then misses previews only).
const CAPACITY: usize = 4096;

/// One live frame, as the reference writes its `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveFrame {
    /// `llm.delta` or `llm.delta_end`.
    pub kind: &'static str,
    pub run_id: String,
    pub parent_run_id: Option<String>,
    pub node_id: String,
    pub call_id: String,
    /// Per call, from 0; the end frame takes the next number.
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The top of the run tree as far as the call knows it (its parent, else itself).
    pub root_run_id: String,
    /// A frame that gives the text so far to a reader who joined mid-call.
    pub snapshot: bool,
}

impl LiveFrame {
    /// Whether a stream of `run_id` shows it: its own calls and its children's.
    pub fn concerns(&self, run_id: &str) -> bool {
        self.run_id == run_id || self.parent_run_id.as_deref() == Some(run_id)
    }

    /// The SSE frame: `event:` and `data:`, no `id:`.
    pub fn sse(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.kind, crate::pyjson::to_string(self))
    }
}

/// A call still streaming: what a late reader needs to catch up.
struct Open {
    call: CallRef,
    text: String,
    /// The number of the next frame.
    next: u64,
}

/// The hub. Cheap to clone.
#[derive(Clone)]
pub struct LiveDeltas {
    frames: broadcast::Sender<Arc<LiveFrame>>,
    open: Arc<Mutex<HashMap<String, Open>>>,
}

impl Default for LiveDeltas {
    fn default() -> Self {
        Self { frames: broadcast::channel(CAPACITY).0, open: Arc::default() }
    }
}

impl LiveDeltas {
    /// Frames from now on, and the text so far of the calls of `run_id` (and its children)
    /// that are open.
    pub fn subscribe(&self, run_id: &str) -> (Vec<LiveFrame>, broadcast::Receiver<Arc<LiveFrame>>) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        // Subscribing under the lock: no frame can slip between the snapshot and the feed.
        let receiver = self.frames.subscribe();
        let snapshot = open
            .values()
            .map(|o| LiveFrame { snapshot: true, ..text_frame(&o.call, o.next.saturating_sub(1), o.text.clone()) })
            .filter(|f| f.concerns(run_id))
            .collect();
        (snapshot, receiver)
    }
}

fn text_frame(call: &CallRef, seq: u64, text: String) -> LiveFrame {
    LiveFrame {
        kind: "llm.delta",
        run_id: call.run_id.clone(),
        parent_run_id: call.parent_run_id.clone(),
        node_id: call.node_id.clone(),
        call_id: call.call_id.clone(),
        seq,
        text: Some(text),
        channel: Some("content"),
        reason: None,
        detail: None,
        root_run_id: call.parent_run_id.clone().unwrap_or_else(|| call.run_id.clone()),
        snapshot: false,
    }
}

impl DeltaSink for LiveDeltas {
    fn publish(&self, call: &CallRef, delta: Delta) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let frame = match delta {
            Delta::Text(text) => {
                let entry = open.entry(call.call_id.clone()).or_insert_with(|| Open {
                    call: call.clone(),
                    text: String::new(),
                    next: 0,
                });
                entry.text.push_str(&text);
                entry.next += 1;
                text_frame(call, entry.next - 1, text)
            }
            Delta::End { reason, detail } => {
                let seq = open.remove(&call.call_id).map_or(0, |o| o.next);
                LiveFrame {
                    kind: "llm.delta_end",
                    text: None,
                    channel: None,
                    reason: Some(reason),
                    detail,
                    ..text_frame(call, seq, String::new())
                }
            }
        };
        // No reader is not an error: previews are only for those watching.
        let _ = self.frames.send(Arc::new(frame));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn call(run: &str, parent: Option<&str>) -> CallRef {
        CallRef {
            run_id: run.into(),
            parent_run_id: parent.map(Into::into),
            node_id: "llm".into(),
            call_id: format!("step-{run}"),
        }
    }

    #[test]
    fn readers_get_their_run_s_and_children_s_frames_and_a_late_reader_catches_up() {
        let hub = LiveDeltas::default();
        let (snapshot, mut early) = hub.subscribe("root");
        assert!(snapshot.is_empty());
        hub.publish(&call("root", None), Delta::Text("Hel".into()));
        hub.publish(&call("child", Some("root")), Delta::Text("x".into()));
        hub.publish(&call("other", None), Delta::Text("y".into()));
        hub.publish(&call("root", None), Delta::Text("lo".into()));

        let (snapshot, _late) = hub.subscribe("root");
        let texts: Vec<_> = snapshot.iter().map(|f| (f.run_id.as_str(), f.text.as_deref(), f.seq)).collect();
        assert!(texts.contains(&("root", Some("Hello"), 1)), "{texts:?}");
        assert!(texts.contains(&("child", Some("x"), 0)), "{texts:?}");
        assert_eq!(texts.len(), 2, "{texts:?}");

        hub.publish(&call("root", None), Delta::End { reason: "completed".into(), detail: None });
        let mut seen = Vec::new();
        while let Ok(frame) = early.try_recv() {
            if frame.concerns("root") {
                seen.push((frame.kind, frame.seq, frame.text.clone()));
            }
        }
        assert_eq!(
            seen,
            vec![
                ("llm.delta", 0, Some("Hel".to_owned())),
                ("llm.delta", 0, Some("x".to_owned())),
                ("llm.delta", 1, Some("lo".to_owned())),
                ("llm.delta_end", 2, None),
            ]
        );
        let end = LiveFrame { snapshot: false, ..text_frame(&call("root", None), 3, String::new()) };
        assert!(end.sse().starts_with("event: llm.delta\ndata: {"), "{}", end.sse());
        assert!(!end.sse().contains("\nid:"));
        // The ended call is no longer open.
        assert_eq!(hub.subscribe("root").0.len(), 1);
    }
}
