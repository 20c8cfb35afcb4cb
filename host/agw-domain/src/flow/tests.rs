//! Interpreter tests on small hand-built flows. Expected values come from the reference
//! (abstractruntime 0.13.0) as recorded in the project's flow cases.

use serde_json::{Map, Value, json};

use super::{CompiledFlow, FlowError};
use super::{NodeCall, NodeExecutor, NodeFailure, TickLimits, TickOutcome, tick};
use crate::env::fake::FakeEnv;
use crate::run::{FlowRef, NewRun, RunState, RunStatus};

/// Stands in for std-nodes: `add` (floats, as the reference) and `fail`.
struct FakeNodes {
    calls: usize,
}

impl NodeExecutor for FakeNodes {
    fn execute(&mut self, call: NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
        self.calls += 1;
        let num = |pin: &str| call.inputs.get(pin).and_then(Value::as_f64).unwrap_or(0.0);
        match call.node_type {
            "add" => Ok(Map::from_iter([("result".into(), json!(num("a") + num("b")))])),
            "stamp" => Ok(Map::from_iter([("result".into(), json!("stamped"))])),
            _ => Err(NodeFailure { message: "plugin fake: boom".into() }),
        }
    }

    /// The effectful fakes say who they are; the pure ones are never journaled anyway.
    fn provenance(&self, node_type: &str) -> Option<Value> {
        matches!(node_type, "stamp" | "boom_step")
            .then(|| json!({"name": "fake", "version": "1.0.0", "sha256": "ab12"}))
    }

    fn last_fuel(&self) -> Option<u64> {
        Some(7)
    }
}

fn provides(node_type: &str) -> Option<bool> {
    match node_type {
        "add" | "explode" => Some(true),
        "stamp" | "boom_step" => Some(false),
        _ => None,
    }
}

#[test]
fn effectful_plugin_steps_are_journaled_with_the_plugin_that_did_them() {
    let flow = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("stamp", "stamp", &[">"], &[">", "result"], json!({})),
            node("boom", "boom_step", &[">"], &[">", "result"], json!({})),
            node("end", "on_flow_end", &[">"], &[], json!({})),
        ],
        vec![edge("start", "stamp"), edge("stamp", "boom"), edge("boom", "end")],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(run.status, RunStatus::Failed);
    let records: Vec<(&str, Value)> =
        run.outbox.iter().map(|r| (r.node_id.as_str(), serde_json::to_value(r.status).unwrap_or_default())).collect();
    assert_eq!(
        records,
        [
            ("stamp", json!("started")),
            ("stamp", json!("completed")),
            ("boom", json!("started")),
            ("boom", json!("failed")),
            // The run's terminal-status record, as the reference writes it.
            ("boom", json!("completed")),
        ]
    );
    assert_eq!(run.outbox[4].idempotency_key.as_deref(), Some("system:terminal_status:failed"));
    let plugin = json!({"name": "fake", "version": "1.0.0", "sha256": "ab12"});
    for record in &run.outbox[..4] {
        let effect = record.effect.as_ref().expect("an effect");
        assert_eq!((effect.kind.as_str(), &effect.payload["plugin"]), ("plugin_node", &plugin));
    }
    assert_eq!(run.outbox[1].result, Some(json!({"outputs": {"result": "stamped"}, "fuel": 7})));
    assert_eq!(run.outbox[0].step_id, run.outbox[1].step_id);
    assert!(run.outbox[3].error.as_deref().unwrap_or_default().contains("plugin fake: boom"), "{:?}", run.outbox[3]);
}

/// A node: `(id, type, inputs, outputs, pinDefaults, extra data)`. Pins are `name` or
/// `name:type`; `>` alone is an execution pin named by position (`exec-in` / `exec-out`).
fn node(id: &str, kind: &str, inputs: &[&str], outputs: &[&str], defaults: Value) -> Value {
    let pins = |list: &[&str], exec_name: &str| -> Vec<Value> {
        list.iter()
            .map(|p| match *p {
                ">" => json!({"id": exec_name, "label": "", "type": "execution"}),
                p if p.starts_with('>') => json!({"id": &p[1..], "label": "", "type": "execution"}),
                p => {
                    let (id, ty) = p.split_once(':').unwrap_or((p, "any"));
                    json!({"id": id, "label": id, "type": ty})
                }
            })
            .collect()
    };
    json!({"id": id, "type": kind, "data": {
        "nodeType": kind, "inputs": pins(inputs, "exec-in"), "outputs": pins(outputs, "exec-out"),
        "pinDefaults": defaults }})
}

fn edge(from: &str, to: &str) -> Value {
    let (s, sh) = from.split_once('.').unwrap_or((from, "exec-out"));
    let (t, th) = to.split_once('.').unwrap_or((to, "exec-in"));
    json!({"source": s, "sourceHandle": sh, "target": t, "targetHandle": th})
}

fn flow(nodes: Vec<Value>, edges: Vec<Value>) -> Value {
    json!({"id": "f", "nodes": nodes, "edges": edges})
}

fn run_flow(flow_json: &Value, input: Value, max_steps: u32) -> (RunState, usize) {
    let compiled = CompiledFlow::compile(flow_json, &provides).expect("compiles");
    let env = FakeEnv::default();
    let mut run = RunState::new(NewRun {
        run_id: "r1".into(),
        flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
        input_data: input.as_object().cloned().unwrap_or_default(),
        session_id: None,
        parent_run_id: None,
        workspace_root: "/tmp/ws".into(),
        entry_node: compiled.entry.clone(),
        now: env.now_iso(),
    });
    let mut nodes = FakeNodes { calls: 0 };
    let limits = TickLimits { max_steps, ..TickLimits::default() };
    let mut ticks = 0;
    while tick(&compiled, &mut run, &mut nodes, &env, limits) == TickOutcome::Yielded {
        ticks += 1;
        assert!(ticks < 10_000, "flow never finished");
    }
    (run, ticks)
}

use crate::env::Env;

fn pure_math() -> Value {
    flow(
        vec![
            node("start", "on_flow_start", &[], &[">", "a:number", "b:number"], json!({"a": 2, "b": 3})),
            node("add", "add", &["a:number", "b:number"], &["result:number"], json!({})),
            node("end", "on_flow_end", &[">", "sum:number"], &[], json!({})),
        ],
        vec![edge("start", "end"), edge("start.a", "add.a"), edge("start.b", "add.b"), edge("add.result", "end.sum")],
    )
}

#[test]
fn pure_flow_completes_with_exactly_two_records() {
    let (run, _) = run_flow(&pure_math(), json!({"a": 40, "b": 2}), 100);
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({"sum": 42.0, "success": true})));
    let keys: Vec<_> = run.outbox.iter().map(|r| r.idempotency_key.clone().unwrap_or_default()).collect();
    assert_eq!(keys, ["system:completion:end", "system:terminal_status:completed"]);
    assert_eq!(run.outbox[0].result, Some(json!({"completed": true, "output": {"sum": 42.0, "success": true}})));
    assert_eq!(run.outbox[1].node_id, "end");
    assert_eq!(run.current_node.as_deref(), Some("end"));
}

#[test]
fn start_pins_fall_back_to_defaults() {
    let (run, _) = run_flow(&pure_math(), json!({}), 100);
    assert_eq!(run.output, Some(json!({"sum": 5.0, "success": true})));
}

/// The reference's loop-n: for 0..n, counter = i; ends with the last i as a float.
fn loop_n() -> Value {
    flow(
        vec![
            node("start", "on_flow_start", &[], &[">", "n:number"], json!({"n": 10})),
            node(
                "for",
                "for",
                &[">", "start", "end", "step"],
                &[">loop", ">done", "i", "index"],
                json!({"start": 0, "step": 1}),
            ),
            node("set", "set_var", &[">", "name:string", "value:number"], &[">", "value"], json!({"name": "counter"})),
            node("get", "get_var", &["name:string"], &["value"], json!({"name": "counter"})),
            node("end", "on_flow_end", &[">", "counter"], &[], json!({})),
        ],
        vec![
            edge("start", "for"),
            edge("start.n", "for.end"),
            edge("for.loop", "set"),
            edge("for.i", "set.value"),
            edge("for.done", "end"),
            edge("get.value", "end.counter"),
        ],
    )
}

#[test]
fn for_loop_matches_reference() {
    let (run, _) = run_flow(&loop_n(), json!({}), 100);
    assert_eq!(run.output, Some(json!({"counter": 9.0, "success": true})));
    // 1 start + 11 for visits + 10 set_var + 1 end, as the reference counts steps.
    assert_eq!(run.exec.steps, 23);
}

#[test]
fn ticks_yield_and_resume_from_checkpointed_state() {
    let (one_tick, _) = run_flow(&loop_n(), json!({"n": 3}), 100);
    let (many_ticks, ticks) = run_flow(&loop_n(), json!({"n": 3}), 1);
    assert!(ticks > 5, "a 1-step tick must yield many times, got {ticks}");
    assert_eq!(one_tick.output, many_ticks.output);
    assert_eq!(many_ticks.output, Some(json!({"counter": 2.0, "success": true})));
}

#[test]
fn checkpoint_survives_serialization_mid_loop() {
    let compiled = CompiledFlow::compile(&loop_n(), &provides).expect("compiles");
    let env = FakeEnv::default();
    let (mut run, _) = run_flow(&flow(vec![node("s", "on_flow_start", &[], &[">"], json!({}))], vec![]), json!({}), 1);
    run.status = RunStatus::Running;
    run.exec = super::ExecState::starting_at(compiled.entry.clone());
    run.input_data = Map::from_iter([("n".into(), json!(4))]);
    let mut nodes = FakeNodes { calls: 0 };
    let limits = TickLimits { max_steps: 3, ..TickLimits::default() };
    loop {
        let saved = serde_json::to_string(&run).expect("serialize");
        run = serde_json::from_str(&saved).expect("deserialize");
        if tick(&compiled, &mut run, &mut nodes, &env, limits) != TickOutcome::Yielded {
            break;
        }
    }
    assert_eq!(run.output, Some(json!({"counter": 3.0, "success": true})));
}

#[test]
fn zero_iterations_leave_loop_outputs_null() {
    let mut f = loop_n();
    f["edges"].as_array_mut().expect("edges").push(edge("for.i", "end.last_i"));
    let (run, _) = run_flow(&f, json!({"n": 0}), 100);
    assert_eq!(run.output, Some(json!({"counter": null, "last_i": null, "success": true})));
}

#[test]
fn if_and_switch_follow_python_semantics() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">", "c", "v"], json!({})),
            node("if", "if", &[">", "condition"], &[">true", ">false"], json!({})),
            node("t", "set_var", &[">", "name", "value"], &[">"], json!({"name": "b", "value": "T"})),
            node("f", "set_var", &[">", "name", "value"], &[">"], json!({"name": "b", "value": "F"})),
            json!({"id": "sw", "type": "switch", "data": {"inputs": [{"id": "exec-in", "type": "execution"}, {"id": "value"}],
                "outputs": [{"id": "case:one", "type": "execution"}, {"id": "case:tru", "type": "execution"}, {"id": "default", "type": "execution"}],
                "switchConfig": {"cases": [{"id": "one", "value": "1"}, {"id": "tru", "value": "True"}]}}}),
            node("s1", "set_var", &[">", "name", "value"], &[">"], json!({"name": "s", "value": "one"})),
            node("s2", "set_var", &[">", "name", "value"], &[">"], json!({"name": "s", "value": "true"})),
            node("s3", "set_var", &[">", "name", "value"], &[">"], json!({"name": "s", "value": "default"})),
            node("gb", "get_var", &["name"], &["value"], json!({"name": "b"})),
            node("gs", "get_var", &["name"], &["value"], json!({"name": "s"})),
            node("end", "on_flow_end", &[">", "b", "s"], &[], json!({})),
        ],
        vec![
            edge("start", "if"),
            edge("start.c", "if.condition"),
            edge("if.true", "t"),
            edge("if.false", "f"),
            edge("t", "sw"),
            edge("f", "sw"),
            edge("start.v", "sw.value"),
            edge("sw.case:one", "s1"),
            edge("sw.case:tru", "s2"),
            edge("sw.default", "s3"),
            edge("s1", "end"),
            edge("s2", "end"),
            edge("s3", "end"),
            edge("gb.value", "end.b"),
            edge("gs.value", "end.s"),
        ],
    );
    let cases = [
        (json!({"c": "false", "v": 1}), "T", "one"),
        (json!({"c": 0, "v": 1.0}), "F", "default"),
        (json!({"c": [], "v": true}), "F", "true"),
        (json!({"c": 2, "v": "1"}), "T", "one"),
        (json!({"c": null, "v": null}), "F", "default"),
    ];
    for (input, b, s) in cases {
        let (run, _) = run_flow(&f, input.clone(), 100);
        assert_eq!(run.output, Some(json!({"b": b, "s": s, "success": true})), "input {input}");
    }
}

#[test]
fn sequence_runs_branches_in_numeric_order_then_returns() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("for", "for", &[">", "start", "end"], &[">loop", ">done", "i"], json!({"start": 0, "end": 2})),
            node("seq", "sequence", &[">"], &[">then:10", ">then:2"], json!({})),
            node("a", "set_var", &[">", "name", "value"], &[">"], json!({"name": "last"})),
            node("b", "set_var", &[">", "name", "value"], &[">"], json!({"name": "first"})),
            node("gl", "get_var", &["name"], &["value"], json!({"name": "last"})),
            node("gf", "get_var", &["name"], &["value"], json!({"name": "first"})),
            node("end", "on_flow_end", &[">", "first", "last"], &[], json!({})),
        ],
        vec![
            edge("start", "for"),
            edge("for.loop", "seq"),
            edge("seq.then:2", "b"),
            edge("seq.then:10", "a"),
            edge("for.i", "a.value"),
            edge("gl.value", "b.value"),
            edge("for.done", "end"),
            edge("gf.value", "end.first"),
            edge("gl.value", "end.last"),
        ],
    );
    // then:2 runs before then:10, so `first` always holds the previous iteration's `last`.
    let (run, _) = run_flow(&f, json!({}), 100);
    assert_eq!(run.output, Some(json!({"first": 0.0, "last": 1.0, "success": true})));
}

#[test]
fn while_loop_reevaluates_its_condition() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("init", "set_var", &[">", "name", "value"], &[">"], json!({"name": "n", "value": 0})),
            node("w", "while", &[">", "condition"], &[">loop", ">done", "index"], json!({})),
            node("lt", "add", &["a", "b"], &["result"], json!({"b": -3})),
            node("get", "get_var", &["name"], &["value"], json!({"name": "n"})),
            node("inc", "add", &["a", "b"], &["result"], json!({"b": 1})),
            node("set", "set_var", &[">", "name", "value"], &[">"], json!({"name": "n"})),
            node("end", "on_flow_end", &[">", "n"], &[], json!({})),
        ],
        vec![
            edge("start", "init"),
            edge("init", "w"),
            edge("get.value", "lt.a"),
            edge("lt.result", "w.condition"),
            edge("w.loop", "set"),
            edge("get.value", "inc.a"),
            edge("inc.result", "set.value"),
            edge("w.done", "end"),
            edge("get.value", "end.n"),
        ],
    );
    // n - 3 is truthy until n reaches 3.
    let (run, _) = run_flow(&f, json!({}), 100);
    assert_eq!(run.output, Some(json!({"n": 3.0, "success": true})));
}

#[test]
fn loop_over_items_and_ambient_end_output() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            json!({"id": "items", "type": "literal_json", "data": {"literalValue": ["a", "b", "c"], "outputs": [{"id": "value"}]}}),
            node("loop", "loop", &[">", "items"], &[">loop", ">done", "item", "index"], json!({})),
            node("set", "set_var", &[">", "name", "value"], &[">"], json!({"name": "last"})),
            node("end", "on_flow_end", &[">"], &[], json!({})),
        ],
        vec![
            edge("start", "loop"),
            edge("items.value", "loop.items"),
            edge("loop.loop", "set"),
            edge("loop.item", "set.value"),
            edge("loop.done", "end"),
        ],
    );
    // An end node without pins returns the ambient: the loop's last iteration.
    let (run, _) = run_flow(&f, json!({}), 100);
    assert_eq!(run.output, Some(json!({"item": "c", "index": 2, "total": 3, "success": true})));
}

#[test]
fn flow_without_end_node_completes_with_result() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("s", "set_var", &[">", "name", "value"], &[">"], json!({"name": "q", "value": 1})),
        ],
        vec![edge("start", "s")],
    );
    let (run, _) = run_flow(&f, json!({"x": 1}), 100);
    // The start node declares no data pins, so its output (the ambient) is the whole input.
    assert_eq!(run.output, Some(json!({"success": true, "result": {"x": 1}})));
    assert_eq!(run.current_node.as_deref(), Some("s"));
}

#[test]
fn plugin_failure_fails_the_run_naming_the_node() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("x", "explode", &["a"], &["result"], json!({})),
            node("end", "on_flow_end", &[">", "v"], &[], json!({})),
        ],
        vec![edge("start", "end"), edge("x.result", "end.v")],
    );
    let (run, _) = run_flow(&f, json!({}), 100);
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("node 'x' (explode): plugin fake: boom"));
    let statuses: Vec<_> = run.outbox.iter().map(|r| serde_json::to_value(r.status).unwrap_or_default()).collect();
    assert_eq!(statuses, [json!("failed"), json!("completed")]);
    assert_eq!(run.outbox[1].idempotency_key.as_deref(), Some("system:terminal_status:failed"));
}

#[test]
fn runaway_while_is_stopped_by_the_guard() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("w", "while", &[">", "condition"], &[">loop", ">done"], json!({"condition": true})),
            node("s", "set_var", &[">", "name", "value"], &[">"], json!({"name": "x", "value": 1})),
        ],
        vec![edge("start", "w"), edge("w.loop", "s")],
    );
    let (run, _) = run_flow(&f, json!({}), 1000);
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("While loop exceeded max_iterations=10000"));
}

#[test]
fn pure_cycle_is_an_error_not_a_stack_overflow() {
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("a", "add", &["a"], &["result"], json!({})),
            node("b", "add", &["a"], &["result"], json!({})),
            node("end", "on_flow_end", &[">", "v"], &[], json!({})),
        ],
        vec![edge("start", "end"), edge("a.result", "b.a"), edge("b.result", "a.a"), edge("a.result", "end.v")],
    );
    let (run, _) = run_flow(&f, json!({}), 100);
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.as_deref().unwrap_or_default().contains("cycle"), "{:?}", run.error);
}

#[test]
fn unknown_connected_node_type_is_named_and_disconnected_is_ignored() {
    let mut f = pure_math();
    f["nodes"].as_array_mut().expect("nodes").push(node("lonely", "frobnicate", &[], &[], json!({})));
    assert!(CompiledFlow::compile(&f, &provides).is_ok());
    f["edges"].as_array_mut().expect("edges").push(edge("lonely.x", "end.sum2"));
    assert_eq!(
        CompiledFlow::compile(&f, &provides).unwrap_err(),
        FlowError::UnknownNodeType { node_id: "lonely".into(), node_type: "frobnicate".into() }
    );
}

#[test]
fn two_edges_into_one_pin_are_refused() {
    let mut f = pure_math();
    f["edges"].as_array_mut().expect("edges").push(edge("start.b", "add.a"));
    let err = CompiledFlow::compile(&f, &provides).unwrap_err();
    assert!(matches!(err, FlowError::DuplicateInput { .. }), "{err:?}");
}

// ---- Durable waits, events and subflows ----

mod durable {
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
        assert!(
            matches!(h.command("pause", json!({})), crate::command::Applied::Ignored(_)),
            "pause waits on the user"
        );
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
                node(
                    "emit",
                    "emit_event",
                    &[">", "name:string", "payload"],
                    &[">"],
                    json!({"name": "tick", "payload": 7}),
                ),
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
        assert_eq!(wait.reason, "subworkflow");
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
            let statuses: Vec<_> =
                h.run.outbox.iter().map(|r| (r.node_id.as_str(), format!("{:?}", r.status))).collect();
            assert_eq!(statuses[..2], [("wait", "Started".to_owned()), ("wait", "Failed".to_owned())], "{duration}");
        }
        // A numeric string is a number, as in the reference.
        let mut h = Harness::new(timer(json!("5")));
        assert_eq!(h.run_on(), TickOutcome::Waiting);
    }
}

/// Runs `flow_json` on a thread with a small stack (so deep recursion would overflow it) and
/// returns the run and how many plugin calls it made.
fn run_on_small_stack(flow_json: Value) -> (RunState, usize) {
    let worker = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || {
        let compiled = CompiledFlow::compile(&flow_json, &provides).expect("compiles");
        let env = FakeEnv::default();
        let mut run = RunState::new(NewRun {
            run_id: "r1".into(),
            flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
            input_data: Map::new(),
            session_id: None,
            parent_run_id: None,
            workspace_root: "/tmp/ws".into(),
            entry_node: compiled.entry.clone(),
            now: env.now_iso(),
        });
        let mut nodes = FakeNodes { calls: 0 };
        while tick(&compiled, &mut run, &mut nodes, &env, TickLimits::default()) == TickOutcome::Yielded {}
        (run, nodes.calls)
    });
    worker.expect("spawn").join().expect("no stack overflow")
}

/// start → end, where `end.sum` reads the last of `n` chained `add` nodes (`b` = 1 each), so
/// the output is `start.a + n`. `tail_to_head` closes the chain into a cycle.
fn add_chain(n: usize, tail_to_head: bool) -> Value {
    let mut nodes = vec![
        node("start", "on_flow_start", &[], &[">", "a:number"], json!({"a": 0})),
        node("end", "on_flow_end", &[">", "sum:number"], &[], json!({})),
    ];
    let mut edges = vec![edge("start", "end"), edge(&format!("add{}.result", n - 1), "end.sum")];
    for i in 0..n {
        nodes.push(node(&format!("add{i}"), "add", &["a:number", "b:number"], &["result:number"], json!({"b": 1})));
        let source = match i {
            0 if tail_to_head => format!("add{}.result", n - 1),
            0 => "start.a".to_owned(),
            _ => format!("add{}.result", i - 1),
        };
        edges.push(edge(&source, &format!("add{i}.a")));
    }
    flow(nodes, edges)
}

#[test]
fn a_long_acyclic_data_chain_runs_to_the_right_value() {
    // 256 was refused as "Data edge cycle detected" by the old depth guard; 10,000 (the
    // default node limit) must evaluate, without deep recursion, each node once.
    for n in [255, 256, 10_000] {
        let (run, calls) = run_on_small_stack(add_chain(n, false));
        assert_eq!(run.status, RunStatus::Completed, "{n}: {:?}", run.error);
        assert_eq!(run.output.as_ref().map(|o| o["sum"].clone()), Some(json!(n as f64)), "{n}");
        assert_eq!(calls, n);
    }
}

#[test]
fn a_cycle_at_the_end_of_a_long_chain_is_still_a_cycle() {
    let (run, calls) = run_on_small_stack(add_chain(5_000, true));
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap_or_default();
    assert!(error.contains("Data edge cycle detected at 'add4999'"), "{error}");
    assert_eq!(calls, 0, "nothing runs before the cycle is found");
}

#[test]
fn a_node_read_by_two_pins_is_evaluated_once_per_read() {
    // Each level adds the previous level to itself: re-evaluating shared inputs would make
    // 2^levels calls; once each is `levels` calls. The result doubles per level.
    let levels = 24;
    let mut nodes = vec![
        node("start", "on_flow_start", &[], &[">", "a:number"], json!({"a": 1})),
        node("end", "on_flow_end", &[">", "sum:number"], &[], json!({})),
    ];
    let mut edges = vec![edge("start", "end"), edge(&format!("add{}.result", levels - 1), "end.sum")];
    for i in 0..levels {
        nodes.push(node(&format!("add{i}"), "add", &["a:number", "b:number"], &["result:number"], json!({})));
        let source = if i == 0 { "start.a".to_owned() } else { format!("add{}.result", i - 1) };
        edges.push(edge(&source, &format!("add{i}.a")));
        edges.push(edge(&source, &format!("add{i}.b")));
    }
    let (run, calls) = run_on_small_stack(flow(nodes, edges));
    assert_eq!(run.output.as_ref().map(|o| o["sum"].clone()), Some(json!(f64::from(1u32 << levels))));
    assert_eq!(calls, levels);
}

#[test]
fn get_var_reads_its_default_only_when_the_variable_is_missing() {
    // `end.v` reads get_var(name "missing", default ← add); `end.w` reads a reroute of a
    // get_var whose variable exists, whose default (an add) must not run.
    let f = flow(
        vec![
            node("start", "on_flow_start", &[], &[">"], json!({})),
            node("set", "set_var", &[">", "name:string", "value:number"], &[">"], json!({"name": "x", "value": 5})),
            node("missing", "get_var", &["name:string", "default"], &["value"], json!({"name": "nope"})),
            node("present", "get_var", &["name:string", "default"], &["value"], json!({"name": "x"})),
            node("add1", "add", &["a:number", "b:number"], &["result:number"], json!({"a": 1, "b": 1})),
            node("add2", "add", &["a:number", "b:number"], &["result:number"], json!({"a": 2, "b": 2})),
            node("via", "reroute", &["in"], &["out"], json!({})),
            node("end", "on_flow_end", &[">", "v", "w"], &[], json!({})),
        ],
        vec![
            edge("start", "set"),
            edge("set", "end"),
            edge("add1.result", "missing.default"),
            edge("add2.result", "present.default"),
            edge("missing.value", "end.v"),
            edge("present.value", "via.in"),
            edge("via.out", "end.w"),
        ],
    );
    let (run, calls) = run_on_small_stack(f);
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let output = run.output.expect("output");
    assert_eq!((output["v"].clone(), output["w"].clone()), (json!(2.0), json!(5)));
    assert_eq!(calls, 1, "only the missing variable's default ran");
}

/// A clock that moves one second at every reading.
#[derive(Default)]
struct SteppingEnv {
    readings: std::sync::atomic::AtomicI64,
}

impl crate::Env for SteppingEnv {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let n = self.readings.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        chrono::DateTime::from_timestamp(1_800_000_000 + n, 0).unwrap_or_default()
    }

    fn new_id(&self) -> String {
        format!("id{}", self.readings.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[test]
fn a_tick_yields_once_its_time_slice_is_used() {
    let compiled = CompiledFlow::compile(&loop_n(), &provides).expect("compiles");
    let ticks_with = |time_slice: Option<std::time::Duration>| {
        let env = SteppingEnv::default();
        let mut run = RunState::new(NewRun {
            run_id: "r1".into(),
            flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
            input_data: Map::from_iter([("n".into(), json!(4))]),
            session_id: None,
            parent_run_id: None,
            workspace_root: "/tmp/ws".into(),
            entry_node: compiled.entry.clone(),
            now: crate::Env::now_iso(&env),
        });
        let mut nodes = FakeNodes { calls: 0 };
        let limits = TickLimits { time_slice, ..TickLimits::default() };
        let mut ticks = 1;
        while tick(&compiled, &mut run, &mut nodes, &env, limits) == TickOutcome::Yielded {
            ticks += 1;
            assert!(ticks < 1000, "flow never finished");
        }
        assert_eq!(run.output, Some(json!({"counter": 3.0, "success": true})));
        ticks
    };
    assert_eq!(ticks_with(None), 1, "100 steps are enough for the whole loop");
    // Every step reads the clock at least once, and each reading is a second later.
    let sliced = ticks_with(Some(std::time::Duration::from_millis(500)));
    assert!(sliced > 5, "the tick yields after every step: {sliced} ticks");
}
