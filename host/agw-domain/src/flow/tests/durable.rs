//! Durable waits, events and subflows.

use super::*;
use crate::command::{Command, apply};

struct Harness {
    flow: CompiledFlow,
    run: RunState,
    env: FakeEnv,
    seq: u64,
}

impl Harness {
    fn new(flow_json: Value) -> Self {
        let flow = CompiledFlow::compile(&flow_json, &provides).expect("compiles");
        let env = FakeEnv::default();
        let run = RunState::new(NewRun {
            run_id: "r1".into(),
            flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
            input_data: Map::new(),
            session_id: Some("s1".into()),
            parent_run_id: None,
            workspace_root: String::new(),
            entry_node: flow.entry.clone(),
            now: env.now_iso(),
        });
        Self { flow, run, env, seq: 0 }
    }

    /// Ticks until the run stops running; returns how the last tick ended.
    fn run_on(&mut self) -> TickOutcome {
        loop {
            let outcome =
                tick(&self.flow, &mut self.run, &mut FakeNodes { calls: 0 }, &self.env, TickLimits::default());
            if outcome != TickOutcome::Yielded || !self.run.is_runnable() {
                return outcome;
            }
        }
    }

    fn command(&mut self, kind: &str, payload: Value) -> crate::command::Applied {
        self.seq += 1;
        let command = Command {
            seq: self.seq,
            command_id: format!("c{}", self.seq),
            run_id: "s1".into(),
            kind: kind.into(),
            payload,
            ts: String::new(),
            client_id: None,
        };
        apply(&mut self.run, &command, &self.env)
    }

    fn statuses(&self) -> Vec<(String, Option<String>)> {
        let status = |r: &crate::record::StepRecord| {
            serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_owned))
        };
        self.run
            .outbox
            .iter()
            .map(|r| (status(r).unwrap_or_default(), r.effect.as_ref().map(|e| e.kind.clone())))
            .collect()
    }
}

fn wait_event_flow() -> Value {
    flow(
        vec![
            node("start", "on_flow_start", &[], &[">", "marker"], json!({"marker": "kept"})),
            node(
                "wait",
                "wait_event",
                &[">", "event_key:string"],
                &[">", "event_data:object"],
                json!({"event_key": "evt:session:s1:default"}),
            ),
            node("end", "on_flow_end", &[">", "event:object", "marker"], &[], json!({})),
        ],
        vec![
            edge("start", "wait"),
            edge("wait", "end"),
            edge("start.marker", "end.marker"),
            edge("wait.event_data", "end.event"),
        ],
    )
}

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn a_wait_event_parks_the_run_and_an_event_resumes_it_with_the_envelope() {
    let mut h = Harness::new(wait_event_flow());
    assert_eq!(h.run_on(), TickOutcome::Waiting);
    let wait = h.run.waiting.clone().expect("waiting");
    assert_eq!((wait.reason.as_str(), wait.wait_key.as_deref()), ("event", Some("evt:session:s1:default")));
    assert_eq!(h.statuses(), [(s("started"), Some(s("wait_event"))), (s("waiting"), Some(s("wait_event")))]);
    assert_eq!(h.run.outbox[0].step_id, h.run.outbox[1].step_id);
    assert_eq!(h.run.outbox[0].idempotency_key.as_ref().map(String::len), Some(32));

    // An event for another key is not heard.
    let other = json!({"name": "nope", "session_id": "s1"});
    assert!(matches!(h.command("emit_event", other), crate::command::Applied::Ignored(_)));
    h.run.begin_checkpoint(2);
    let event = json!({"name": "default", "scope": "session", "session_id": "s1", "payload": {"k": 1}});
    assert_eq!(h.command("emit_event", event), crate::command::Applied::Changed);
    assert_eq!(h.statuses(), [(s("completed"), Some(s("resume")))]);
    assert_eq!(h.run_on(), TickOutcome::Finished(RunStatus::Completed));
    let output = h.run.output.clone().expect("output");
    assert_eq!(output["event"]["payload"], json!({"k": 1}));
    assert_eq!(output["event"]["emitter"], json!({"source": "external", "client_id": null}));
    assert_eq!(output["marker"], "kept", "effect nodes leave the ambient alone");
}

#[test]
fn a_paused_event_wait_drops_events_until_resumed() {
    let mut h = Harness::new(wait_event_flow());
    h.run_on();
    assert_eq!(h.command("pause", json!({})), crate::command::Applied::Changed);
    assert!(h.run.paused);
    assert_eq!(h.run.waiting.as_ref().map(|w| w.reason.as_str()), Some("event"), "the wait is kept");
    let event = json!({"name": "default", "session_id": "s1"});
    assert!(matches!(h.command("emit_event", event.clone()), crate::command::Applied::Ignored(_)));
    assert_eq!(h.command("resume", json!({})), crate::command::Applied::Changed);
    assert!(!h.run.paused);
    assert_eq!(h.run.status, RunStatus::Waiting, "unpausing does not answer the wait");
    assert_eq!(h.command("emit_event", event), crate::command::Applied::Changed);
    assert_eq!(h.run_on(), TickOutcome::Finished(RunStatus::Completed));
}

#[test]
fn ask_user_waits_on_a_user_key_and_resume_delivers_the_response() {
    let mut h = Harness::new(flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("ask", "ask_user", &[">", "prompt:string"], &[">", "response:string"], json!({"prompt": "who?"})),
            node("end", "on_flow_end", &[">", "response:string"], &[], json!({})),
        ],
        vec![edge("start", "ask"), edge("ask", "end"), edge("ask.response", "end.response")],
    ));
    assert_eq!(h.run_on(), TickOutcome::Waiting);
    let wait = h.run.waiting.clone().expect("waiting");
    assert_eq!(wait.wait_key.as_deref(), Some("user:r1:ask"));
    assert_eq!(wait.prompt.as_deref(), Some("who?"));
    assert!(matches!(h.command("pause", json!({})), crate::command::Applied::Ignored(_)), "pause waits on the user");
    let wrong = json!({"wait_key": "user:r1:other", "payload": {"response": "x"}});
    assert!(matches!(h.command("resume", wrong), crate::command::Applied::Ignored(_)));
    let right = json!({"wait_key": "user:r1:ask", "payload": {"response": "me"}});
    assert_eq!(h.command("resume", right), crate::command::Applied::Changed);
    assert_eq!(h.run_on(), TickOutcome::Finished(RunStatus::Completed));
    assert_eq!(h.run.output, Some(json!({"response": "me", "success": true})));
}

#[test]
fn emit_event_journals_a_step_and_sends_the_event_through_the_inbox() {
    let mut h = Harness::new(flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("emit", "emit_event", &[">", "name:string", "payload"], &[">"], json!({"name": "tick", "payload": 7})),
            node("end", "on_flow_end", &[">"], &[], json!({})),
        ],
        vec![edge("start", "emit"), edge("emit", "end")],
    ));
    assert_eq!(h.run_on(), TickOutcome::Finished(RunStatus::Completed));
    assert_eq!(h.statuses()[..2], [(s("started"), Some(s("emit_event"))), (s("completed"), Some(s("emit_event")))]);
    let [send] = h.run.sends.as_slice() else { panic!("one event sent: {:?}", h.run.sends) };
    assert_eq!(send.kind, "emit_event");
    assert_eq!(send.payload["event_id"], "r1:emit:1");
    assert_eq!(send.payload["payload"], json!({"value": 7}), "a non-object payload is wrapped");
    let event = send.clone().with_seq(1).event().expect("a deliverable event");
    assert_eq!(event.wait_key, "evt:session:s1:tick");
    assert_eq!(event.wildcard_key.as_deref(), Some("evt:session:s1:*"), "flow events reach wildcard listeners");
    assert_eq!(event.envelope["emitter"]["node_id"], "emit");
}

#[test]
fn a_subflow_spawns_a_child_and_its_result_comes_back_on_the_pins() {
    let mut sub = node("sub", "subflow", &[">", "a:number"], &[">", "sum:number", "output"], json!({"a": 5}));
    sub["data"]["subflowId"] = json!("child");
    let mut h = Harness::new(flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            sub,
            node("end", "on_flow_end", &[">", "sum:number"], &[], json!({})),
        ],
        vec![edge("start", "sub"), edge("sub", "end"), edge("sub.sum", "end.sum")],
    ));
    assert_eq!(h.run_on(), TickOutcome::Waiting);
    let [spawn] = h.run.spawns.as_slice() else { panic!("one child: {:?}", h.run.spawns) };
    assert_eq!(spawn.flow.workflow_id(), "b@1:child", "a sibling flow resolves within the bundle");
    assert_eq!(spawn.input_data, json!({"a": 5}).as_object().cloned().expect("object"));
    assert_eq!(spawn.session_id, "s1");
    let wait = h.run.waiting.clone().expect("waiting");
    assert_eq!(wait.reason, crate::run::WaitReason::Subworkflow);
    assert_eq!(wait.child_run_id(), Some(spawn.run_id.as_str()));
    assert_eq!(h.run.children, std::slice::from_ref(&spawn.run_id));

    // The child finishes and hands its output to the parent through the inbox.
    let mut child = RunState::new(NewRun {
        run_id: spawn.run_id.clone(),
        flow: spawn.flow.clone(),
        input_data: spawn.input_data.clone(),
        session_id: Some(spawn.session_id.clone()),
        parent_run_id: Some("r1".into()),
        workspace_root: String::new(),
        entry_node: "start".into(),
        now: String::new(),
    });
    child.complete(&h.env, "end", json!({"sum": 45.0, "success": true}));
    let [done] = child.sends.as_slice() else { panic!("one result sent: {:?}", child.sends) };
    assert_eq!(done.run_id, "r1");
    h.seq += 1;
    assert_eq!(apply(&mut h.run, &done.clone().with_seq(h.seq), &h.env), crate::command::Applied::Changed);
    assert_eq!(h.run_on(), TickOutcome::Finished(RunStatus::Completed));
    assert_eq!(h.run.output, Some(json!({"sum": 45.0, "success": true})));
}

#[test]
fn cancel_and_pause_reach_every_child() {
    let mut h = Harness::new(wait_event_flow());
    h.run.children = vec!["c1".into(), "c2".into()];
    h.command("pause", json!({}));
    let kinds: Vec<_> = h.run.sends.iter().map(|c| (c.run_id.as_str(), c.kind.as_str())).collect();
    assert_eq!(kinds, [("c1", "pause"), ("c2", "pause")]);
    h.run.begin_checkpoint(0);
    h.command("cancel", json!({"reason": "stop"}));
    let kinds: Vec<_> = h.run.sends.iter().map(|c| (c.run_id.as_str(), c.kind.as_str())).collect();
    assert_eq!(kinds, [("c1", "cancel"), ("c2", "cancel")]);
    assert_eq!((h.run.status, h.run.error.as_deref()), (RunStatus::Cancelled, Some("stop")));
}

#[test]
fn a_past_timer_completes_at_once_and_a_future_one_waits_until_due() {
    let timer = |duration: i64| {
        flow(
            vec![
                node("start", "on_flow_start", &[], &[">"], json!({})),
                node("wait", "wait_until", &[">", "duration:number"], &[">"], json!({"duration": duration})),
                node("end", "on_flow_end", &[">"], &[], json!({})),
            ],
            vec![edge("start", "wait"), edge("wait", "end")],
        )
    };
    let mut now = Harness::new(timer(0));
    assert_eq!(now.run_on(), TickOutcome::Finished(RunStatus::Completed));
    assert_eq!(now.run.outbox[1].result, Some(json!({"until": now.env.now_iso(), "ready": true})));

    let mut later = Harness::new(timer(5));
    assert_eq!(later.run_on(), TickOutcome::Waiting);
    assert_eq!(
        later.run.waiting.as_ref().and_then(|w| w.until.clone()),
        Some(crate::env::iso(later.env.now() + chrono::Duration::seconds(5)))
    );
    assert!(!later.run.wake_timer(&later.env), "not due yet (the fake clock is frozen)");
    later.run.waiting.as_mut().expect("waiting").until = Some(later.env.now_iso());
    assert!(later.run.wake_timer(&later.env));
    assert_eq!(later.run_on(), TickOutcome::Finished(RunStatus::Completed));
}

#[test]
fn a_wait_until_duration_that_is_not_a_usable_number_fails_the_step() {
    let timer = |duration: Value| {
        flow(
            vec![
                node("start", "on_flow_start", &[], &[">"], json!({})),
                node("wait", "wait_until", &[">", "duration:number"], &[">"], json!({"duration": duration})),
                node("end", "on_flow_end", &[">"], &[], json!({})),
            ],
            vec![edge("start", "wait"), edge("wait", "end")],
        )
    };
    let cases = [
        (json!("x"), "wait_until duration is not a number of seconds: 'x'"),
        (json!(null), "wait_until duration is not a number of seconds: None"),
        (json!(1e15), "wait_until duration is too long: 1000000000000000.0 seconds would end after 9999-12-31"),
    ];
    for (duration, message) in cases {
        let mut h = Harness::new(timer(duration.clone()));
        assert_eq!(h.run_on(), TickOutcome::Finished(RunStatus::Failed), "{duration}");
        let error = h.run.error.clone().unwrap_or_default();
        assert!(error.ends_with(message), "{duration}: {error}");
        let statuses: Vec<_> = h.run.outbox.iter().map(|r| (r.node_id.as_str(), format!("{:?}", r.status))).collect();
        assert_eq!(statuses[..2], [("wait", "Started".to_owned()), ("wait", "Failed".to_owned())], "{duration}");
    }
    // A numeric string is a number, as in the reference.
    let mut h = Harness::new(timer(json!("5")));
    assert_eq!(h.run_on(), TickOutcome::Waiting);
}
