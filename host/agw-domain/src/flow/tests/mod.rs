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

/// A fresh run `r1` of `compiled` with `input` as its input data.
fn new_run(compiled: &CompiledFlow, input: Value, env: &FakeEnv) -> RunState {
    RunState::new(NewRun {
        run_id: "r1".into(),
        flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
        input_data: input.as_object().cloned().unwrap_or_default(),
        session_id: None,
        parent_run_id: None,
        workspace_root: "/tmp/ws".into(),
        entry_node: compiled.entry.clone(),
        now: env.now_iso(),
    })
}

fn run_flow(flow_json: &Value, input: Value, max_steps: u32) -> (RunState, usize) {
    let compiled = CompiledFlow::compile(flow_json, &provides).expect("compiles");
    let env = FakeEnv::default();
    let mut run = new_run(&compiled, input, &env);
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

mod data_edges;
mod durable;
mod engine_nodes;
mod llm;

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
