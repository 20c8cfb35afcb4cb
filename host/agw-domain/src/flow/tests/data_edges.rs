//! Data edges: long chains, cycles, shared inputs and `get_var` defaults, evaluated without
//! recursion.

use super::*;

/// Runs `flow_json` on a thread with a small stack (so deep recursion would overflow it) and
/// returns the run and how many plugin calls it made.
fn run_on_small_stack(flow_json: Value) -> (RunState, usize) {
    let worker = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || {
        let compiled = CompiledFlow::compile(&flow_json, &provides).expect("compiles");
        let env = FakeEnv::default();
        let mut run = new_run(&compiled, json!({}), &env);
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
