//! The engine's writers (`set_vars`, `set_var_property`, `add_to_list`, `add_message`), control
//! nodes (`parallel`, `loop_limit`, `join_exec`), triggers and the authoring-time lowerings.
//! Expected values are the reference's (recorded in `tests/flow-cases/engine-*`, or read from
//! abstractruntime 0.13.0's adapters for the failures, which the reference turns into
//! `success: false` outputs and this engine into failed runs).

use super::*;

/// `node(...)` with more `data` (`literalValue`, `eventConfig`, `inputRouteOverrides`...).
fn with(mut node: Value, extra: Value) -> Value {
    if let (Some(data), Value::Object(extra)) = (node["data"].as_object_mut(), extra) {
        data.extend(extra);
    }
    node
}

fn limited(from: &str, to: &str, max: Value) -> Value {
    let mut e = edge(from, to);
    e["data"] = json!({"loopLimit": {"max": max}});
    e
}

fn start(outputs: &[&str], defaults: Value) -> Value {
    let mut pins = vec![">"];
    pins.extend_from_slice(outputs);
    node("start", "on_flow_start", &[], &pins, defaults)
}

fn end(pins: &[&str]) -> Value {
    let mut all = vec![">"];
    all.extend_from_slice(pins);
    node("end", "on_flow_end", &all, &[], json!({}))
}

fn add_to_list(id: &str, name: &str, item: Value) -> Value {
    node(id, "add_to_list", &[">", "name", "item", "items"], &[">", "list"], json!({"name": name, "item": item}))
}

fn get_vars(id: &str, names: &[&str]) -> Value {
    node(id, "get_vars", &[], names, json!({}))
}

fn output(run: &RunState) -> Value {
    assert_eq!(run.status, RunStatus::Completed, "run failed: {:?}", run.error);
    run.output.clone().unwrap_or(Value::Null)
}

fn failed_with(run: &RunState, message: &str) {
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_deref(), Some(message));
}

#[test]
fn the_run_variables_start_as_its_input_and_not_its_start_defaults() {
    let flow = flow(
        vec![
            start(&["n", "label"], json!({"label": "default"})),
            node("gv", "get_var", &["name", "default"], &["value"], json!({"name": "n"})),
            get_vars("vars", &["user.name", "label"]),
            end(&["n", "name", "label"]),
        ],
        vec![
            edge("start", "end"),
            edge("gv.value", "end.n"),
            edge("vars.user.name", "end.name"),
            edge("vars.label", "end.label"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({"n": 3, "user": {"name": "Ada"}}), 100);
    assert_eq!(output(&run), json!({"n": 3, "name": "Ada", "label": null, "success": true}));
}

#[test]
fn set_vars_writes_updates_and_pins_and_leaves_the_ambient() {
    let flow = flow(
        vec![
            start(&["seed"], json!({"seed": "s"})),
            node(
                "sv",
                "set_vars",
                &[">", "updates", "x:number"],
                &[">", "updates"],
                json!({"updates": {"a.b": 1, " sp ": true, "x": 0}, "x": 5}),
            ),
            get_vars("vars", &["a", "sp", "x"]),
            end(&["updates", "seed", "a", "sp", "x"]),
        ],
        vec![
            edge("start", "sv"),
            edge("sv", "end"),
            edge("sv.updates", "end.updates"),
            edge("vars.a", "end.a"),
            edge("vars.sp", "end.sp"),
            edge("vars.x", "end.x"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(
        output(&run),
        json!({"updates": {"a.b": 1, "sp": true, "x": 5}, "seed": "s", "a": {"b": 1}, "sp": true, "x": 5, "success": true})
    );
}

#[test]
fn set_vars_reads_only_its_own_pins_and_parses_json_updates() {
    // `x` is not wired and has no default: the ambient's `x` is not a variable to set.
    let flow = flow(
        vec![
            start(&["x"], json!({"x": 1})),
            node("sv", "set_vars", &[">", "updates", "x"], &[">", "updates"], json!({"updates": "{\"j\": [1]}"})),
        ],
        vec![edge("start", "sv")],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(output(&run), json!({"success": true, "updates": {"j": [1]}, "result": {"x": 1}}));
    assert_eq!(run.exec.vars.get("x"), None);
}

#[test]
fn set_vars_refuses_blank_and_reserved_names_before_writing_any() {
    for (updates, message) in [
        (json!({"ok": 1, " ": 2}), "Set Variables requires non-empty variable names in updates."),
        (json!({"ok": 1, "_x": 2}), "Invalid variable name '_x': names starting with '_' are reserved."),
        (json!({"..": 1}), "Failed to set variables: Variable name must be non-empty"),
    ] {
        let flow = flow(
            vec![
                start(&[], json!({})),
                node("sv", "set_vars", &[">", "updates"], &[">", "updates"], json!({"updates": updates})),
            ],
            vec![edge("start", "sv")],
        );
        let (run, _) = run_flow(&flow, json!({}), 100);
        failed_with(&run, message);
        if !message.starts_with("Failed") {
            assert_eq!(run.exec.vars.get("ok"), None, "nothing is written before the names are checked");
        }
    }
}

#[test]
fn set_var_property_updates_one_key_of_an_object_variable() {
    let flow = flow(
        vec![
            start(&["hp"], json!({"hp": 3})),
            node(
                "p",
                "set_var_property",
                &[">", "name", "key", "value"],
                &[">", "value"],
                json!({"name": " state ", "key": "stats..hp"}),
            ),
        ],
        vec![edge("start", "p"), edge("start.hp", "p.value")],
    );
    let (run, _) = run_flow(&flow, json!({"state": {"stats": 5, "keep": true}}), 100);
    let state = json!({"stats": {"hp": 3}, "keep": true});
    assert_eq!(output(&run), json!({"success": true, "value": state, "result": {"hp": 3}}));
    assert_eq!(run.exec.vars["state"], state);

    // A variable that is not an object is replaced by one.
    let (run, _) = run_flow(&flow, json!({"state": [1]}), 100);
    assert_eq!(run.exec.vars["state"], json!({"stats": {"hp": 3}}), "a non-object starts as {{}}");
}

#[test]
fn set_var_property_needs_a_name_and_a_key() {
    for (defaults, message) in [
        (json!({"key": "k"}), "Set Variable Property requires a non-empty variable name."),
        (json!({"name": "_s", "key": "k"}), "Invalid variable name '_s': names starting with '_' are reserved."),
        (json!({"name": "s", "key": 0}), "Set Variable Property requires a non-empty key."),
        (json!({"name": ".", "key": "k"}), "Failed to set variable property '..k': Variable name must be non-empty"),
    ] {
        let flow = flow(
            vec![
                start(&[], json!({})),
                node("p", "set_var_property", &[">", "name", "key", "value"], &[">"], defaults),
            ],
            vec![edge("start", "p")],
        );
        failed_with(&run_flow(&flow, json!({}), 100).0, message);
    }
}

#[test]
fn add_to_list_appends_item_then_items() {
    let flow = flow(
        vec![
            start(&["extra"], json!({"extra": ["b", "c"]})),
            add_to_list("a1", "log", json!("first")),
            add_to_list("a2", "log", json!(null)),
            end(&["list", "log"]),
        ],
        vec![
            edge("start", "a1"),
            edge("a1", "a2"),
            edge("a2", "end"),
            edge("start.extra", "a1.items"),
            edge("a1.list", "end.list"),
            edge("start.extra", "a2.items"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({"log": ["old"]}), 100);
    assert_eq!(run.exec.vars["log"], json!(["old", "first", "b", "c", "b", "c"]));
    assert_eq!(output(&run)["list"], json!(["old", "first", "b", "c"]));
    let (run, _) = run_flow(&flow, json!({"log": null}), 100);
    assert_eq!(run.exec.vars["log"], json!(["first", "b", "c", "b", "c"]), "null starts as []");
}

#[test]
fn add_to_list_refuses_what_is_not_a_list() {
    let flow = |items: Value| {
        flow(
            vec![
                start(&[], json!({})),
                node("a", "add_to_list", &[">", "name", "items"], &[">"], json!({"name": "log", "items": items})),
            ],
            vec![edge("start", "a")],
        )
    };
    failed_with(
        &run_flow(&flow(json!(5)), json!({}), 100).0,
        "Add to List Variable 'log': items must be a list, got int.",
    );
    failed_with(
        &run_flow(&flow(json!([])), json!({"log": "text"}), 100).0,
        "Add to List Variable: 'log' holds a str, not a list.",
    );
    let (run, _) = run_flow(&flow(json!([])), json!({}), 100);
    assert_eq!(output(&run), json!({"success": true, "result": {}}));
    assert_eq!(run.exec.vars["log"], json!([]));
}

#[test]
fn add_message_with_execution_pins_appends_to_the_context() {
    let message_pins: &[&str] = &[">", "message", "context", "task", "messages"];
    let flow = flow(
        vec![
            start(&["role"], json!({"role": "assistant"})),
            node("m1", "add_message", &[">", "role", "content"], message_pins, json!({"content": 42})),
            node("m2", "add_message", &[">", "role", "content"], message_pins, json!({"role": null})),
            node("ctx", "get_context", &[], &["messages"], json!({})),
            end(&["first", "count", "all", "role"]),
        ],
        vec![
            edge("start", "m1"),
            edge("m1", "m2"),
            edge("m2", "end"),
            edge("m1.message", "end.first"),
            edge("m1.messages", "end.count"),
            edge("ctx.messages", "end.all"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({"context": {"task": 7, "messages": {"not": "a list"}}}), 100);
    let out = output(&run);
    let at = "2027-01-15T08:00:00+00:00";
    let first = json!({"role": "assistant", "content": "42", "timestamp": at, "metadata": {"message_id": "msg_id0"}});
    assert_eq!(out["first"], first, "the role read from the ambient, the content as str()");
    assert_eq!(out["count"], json!([first]), "the messages when it ran; a non-list starts over");
    assert_eq!(out["all"][1]["role"], "user", "null means user");
    assert_eq!(out["all"][1]["content"], "");
    assert_eq!(out["role"], "assistant", "the ambient is left alone");
    assert_eq!(run.exec.outputs["m2"]["task"], "7");

    // Ending the flow, it outputs its message.
    let ending = super::flow(
        vec![
            start(&[], json!({})),
            node("m", "add_message", &[">", "role", "content"], message_pins, json!({"content": "c"})),
        ],
        vec![edge("start", "m")],
    );
    let (run, _) = run_flow(&ending, json!({}), 100);
    let message = json!({"role": "user", "content": "c", "timestamp": at, "metadata": {"message_id": "msg_id0"}});
    assert_eq!(output(&run), json!({"success": true, "message": message}));
}

#[test]
fn add_message_without_execution_pins_is_the_plugin_node() {
    let pure = node("m", "add_message", &["role", "content"], &["message"], json!({}));
    let flow =
        flow(vec![start(&[], json!({})), pure, end(&["m"])], vec![edge("start", "end"), edge("m.message", "end.m")]);
    let with_plugin = |t: &str| if t == "add_message" { Some(true) } else { provides(t) };
    let compiled = CompiledFlow::compile(&flow, &with_plugin).expect("compiles with the plugin");
    assert_eq!(compiled.node("m").map(|n| n.kind), Some(super::super::NodeKind::Plugin { pure: true }));
    assert!(matches!(
        CompiledFlow::compile(&flow, &provides),
        Err(FlowError::UnknownNodeType { node_type, .. }) if node_type == "add_message"
    ));
}

const PARALLEL: &[&str] = &[">then:0", ">then:1", ">completed"];

#[test]
fn parallel_runs_its_branches_in_pin_order_then_completed() {
    let flow = flow(
        vec![
            start(&["seed"], json!({"seed": "s"})),
            node("par", "parallel", &[">"], PARALLEL, json!({})),
            add_to_list("b1", "log", json!("one")),
            add_to_list("b0", "log", json!("zero")),
            add_to_list("done", "log", json!("done")),
            get_vars("vars", &["log"]),
            end(&["log", "seed"]),
        ],
        vec![
            edge("start", "par"),
            edge("par.then:1", "b1"),
            edge("par.completed", "done"),
            edge("par.then:0", "b0"),
            edge("done", "end"),
            edge("vars.log", "end.log"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(output(&run), json!({"log": ["zero", "one", "done"], "seed": "s", "success": true}));
    assert!(run.exec.frames.is_empty());
}

#[test]
fn parallel_without_completed_ends_like_a_sequence_and_completed_runs_outside_it_in_a_loop() {
    let flow = flow(
        vec![
            start(&["seed"], json!({"seed": "s"})),
            node("par", "parallel", &[">"], PARALLEL, json!({})),
            add_to_list("b0", "log", json!("zero")),
        ],
        vec![edge("start", "par"), edge("par.then:0", "b0")],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(output(&run), json!({"success": true, "result": {"seed": "s"}}));
    assert_eq!(run.current_node.as_deref(), Some("par"));

    let looped = super::flow(
        vec![
            start(&[], json!({})),
            node(
                "for",
                "for",
                &[">", "start", "end", "step"],
                &[">loop", ">done", "i", "index"],
                json!({"start": 0, "end": 2}),
            ),
            node("par", "parallel", &[">"], PARALLEL, json!({})),
            node("b0", "add_to_list", &[">", "name", "item"], &[">"], json!({"name": "log"})),
            add_to_list("c", "log", json!("completed")),
            get_vars("vars", &["log"]),
            end(&["log"]),
        ],
        vec![
            edge("start", "for"),
            edge("for.loop", "par"),
            edge("par.then:0", "b0"),
            edge("par.completed", "c"),
            edge("for.i", "b0.item"),
            edge("for.done", "end"),
            edge("vars.log", "end.log"),
        ],
    );
    let (run, _) = run_flow(&looped, json!({}), 100);
    assert_eq!(output(&run)["log"], json!([0.0, "completed", 1.0, "completed"]));
}

fn loop_limit(id: &str, defaults: Value) -> Value {
    node(id, "loop_limit", &[">", "max:number"], &[">again", ">limit_reached", "count:number"], defaults)
}

#[test]
fn a_limit_on_a_wire_loops_back_then_takes_the_if_s_other_branch() {
    let flow = flow(
        vec![
            start(&["stop"], json!({"stop": false})),
            add_to_list("add", "log", json!("x")),
            node("if", "if", &[">", "condition"], &[">true", ">false"], json!({})),
            get_vars("vars", &["log"]),
            end(&["log", "branch", "count"]),
        ],
        vec![
            edge("start", "add"),
            edge("add", "if"),
            limited("if.false", "add", json!(2)),
            edge("if.true", "end"),
            edge("start.stop", "if.condition"),
            edge("vars.log", "end.log"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(output(&run), json!({"log": ["x", "x", "x"], "branch": "limit_reached", "count": 2, "success": true}));
    let (run, _) = run_flow(&flow, json!({"stop": true}), 100);
    assert_eq!(output(&run), json!({"log": ["x"], "branch": "true", "count": null, "success": true}));
}

#[test]
fn a_loop_limit_counts_per_loop_iteration_and_per_loop_entry() {
    // A sequence enters the same `for` twice; its body passes a limit of 1 once per iteration,
    // so every pass goes `again`: neither the iteration nor the second entry inherits a count.
    let flow = flow(
        vec![
            start(&[], json!({})),
            node("seq", "sequence", &[">"], &[">then:0", ">then:1"], json!({})),
            node("for", "for", &[">", "start", "end"], &[">loop", ">done", "i"], json!({"start": 0, "end": 2})),
            loop_limit("ll", json!({"max": 1})),
            add_to_list("again", "log", json!("again")),
            add_to_list("reached", "log", json!("reached")),
        ],
        vec![
            edge("start", "seq"),
            edge("seq.then:0", "for"),
            edge("seq.then:1", "for"),
            edge("for.loop", "ll"),
            edge("ll.again", "again"),
            edge("ll.limit_reached", "reached"),
        ],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(run.exec.vars["log"], json!(["again", "again", "again", "again"]));

    // Looping back inside one iteration reaches the limit; at the top level the count is the
    // run's, and the default limit is 3.
    let flow = super::flow(
        vec![
            start(&[], json!({})),
            loop_limit("top", json!({})),
            add_to_list("add", "log", json!("top")),
            end(&["count", "branch"]),
        ],
        vec![edge("start", "top"), edge("top.again", "add"), edge("add", "top"), edge("top.limit_reached", "end")],
    );
    let (run, _) = run_flow(&flow, json!({}), 100);
    assert_eq!(output(&run), json!({"count": 3, "branch": "limit_reached", "success": true}));
    assert_eq!(run.exec.vars["log"], json!(["top", "top", "top"]));
    assert_eq!(run.exec.loop_limits["top"], json!({"scope": "", "count": 0}), "it starts counting again");
}

#[test]
fn a_loop_limit_needs_a_whole_number() {
    let flow = flow(vec![start(&[], json!({})), loop_limit("ll", json!({"max": "2.5"}))], vec![edge("start", "ll")]);
    failed_with(&run_flow(&flow, json!({}), 100).0, "Loop Limit: max must be a whole number, got '2.5'");
    // An unwired limit_reached ends the flow with the limit's output.
    let flow =
        super::flow(vec![start(&[], json!({})), loop_limit("ll", json!({"max": -4}))], vec![edge("start", "ll")]);
    assert_eq!(
        output(&run_flow(&flow, json!({}), 100).0),
        json!({"branch": "limit_reached", "count": 0, "success": true})
    );
}

/// A node entered three ways (after `pre`, from the `if`'s false branch, and looping back
/// through a limited wire), with a per-path value for its `item`.
fn multi_entry() -> Value {
    let route = |source: &str| json!({"sourceNodeId": source, "sourceHandle": "value"});
    let target = with(
        add_to_list("tgt", "log", json!("base")),
        json!({"inputRouteOverrides": {"item": {
            "pre::exec-out": route("lit_a"), "if::false": route("lit_b"), "again::false": route("lit_c")}}}),
    );
    let literal =
        |id: &str, v: &str| with(node(id, "literal_string", &[], &["value"], json!({})), json!({"literalValue": v}));
    flow(
        vec![
            start(&["first"], json!({"first": true})),
            node("if", "if", &[">", "condition"], &[">true", ">false"], json!({})),
            add_to_list("pre", "log", json!("T")),
            literal("lit_a", "A"),
            literal("lit_b", "B"),
            literal("lit_c", "C"),
            target,
            node("again", "if", &[">", "condition"], &[">true", ">false"], json!({"condition": false})),
            end(&["which"]),
        ],
        vec![
            edge("start", "if"),
            edge("start.first", "if.condition"),
            edge("if.true", "pre"),
            edge("pre", "tgt"),
            edge("if.false", "tgt"),
            edge("tgt", "again"),
            limited("again.false", "tgt", json!(1)),
            edge("again.true", "end"),
        ],
    )
}

#[test]
fn per_path_inputs_pick_the_value_of_the_way_that_came_in() {
    let provides_mux = |t: &str| if t == "path_mux" { Some(true) } else { provides(t) };
    let compiled = CompiledFlow::compile(&multi_entry(), &provides_mux).expect("compiles");
    let join = compiled.node("__internal_join_exec__tgt").expect("a join in front of the target");
    assert_eq!(
        join.data[super::super::lower::JOIN_ROUTES],
        json!([["pre", "exec-out"], ["if", "false"], ["loop-limit:again.false->tgt", "again"]])
    );
    assert!(compiled.node("__internal_path_mux__tgt__item").is_some());

    // The fake plugin host has no path_mux: read the join's outputs instead.
    struct Mux;
    impl NodeExecutor for Mux {
        fn execute(&mut self, call: NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
            let select = call.inputs.get("select").and_then(Value::as_u64).unwrap_or(0);
            let out = call.inputs.get(&format!("in{select}")).or(call.inputs.get("fallback")).cloned();
            Ok(Map::from_iter([("out".into(), out.unwrap_or(Value::Null))]))
        }
    }
    for (first, log, came) in [
        (
            true,
            json!(["T", "A", "C"]),
            json!({"which": 2, "from": "loop-limit:again.false->tgt", "from_handle": "again"}),
        ),
        (false, json!(["B", "C"]), json!({"which": 2, "from": "loop-limit:again.false->tgt", "from_handle": "again"})),
    ] {
        let env = FakeEnv::default();
        let mut run = RunState::new(NewRun {
            run_id: "r1".into(),
            flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
            input_data: json!({"first": first}).as_object().cloned().unwrap_or_default(),
            session_id: None,
            parent_run_id: None,
            workspace_root: "/tmp/ws".into(),
            entry_node: compiled.entry.clone(),
            now: env.now_iso(),
        });
        while tick(&compiled, &mut run, &mut Mux, &env, TickLimits::default()) == TickOutcome::Yielded {}
        assert_eq!(output(&run), json!({"which": null, "success": true}), "the join leaves the ambient alone");
        assert_eq!(run.exec.vars["log"], log);
        assert_eq!(run.exec.outputs["__internal_join_exec__tgt"], came);
    }
}

#[test]
fn lowering_refuses_what_the_reference_refuses() {
    let cases = [
        (
            flow(vec![start(&[], json!({})), end(&[])], vec![limited("start", "end", json!("2"))]),
            "Wire start.exec-out -> end: loopLimit.max must be a number, got '2'",
        ),
        (
            flow(
                vec![start(&["v"], json!({})), end(&["v"])],
                vec![edge("start", "end"), limited("start.v", "end.v", json!(1))],
            ),
            "Wire start.v -> end.v carries a loop limit but is not an execution wire.",
        ),
        (
            {
                let mut f = multi_entry();
                f["nodes"][6]["data"]["inputRouteOverrides"]["item"]["nope::x"] =
                    json!({"sourceNodeId": "lit_a", "sourceHandle": "value"});
                f
            },
            "Node 'tgt' override for pin 'item' references unknown route 'nope::x'. Ensure entryRoutes is up to date.",
        ),
        (
            {
                let mut f = multi_entry();
                f["nodes"][6]["data"]["entryRoutes"] = json!([{"sourceNodeId": "pre"}]);
                f
            },
            "Node 'tgt' entryRoutes mismatch with incoming exec edges. missing=[] extra=[('if', 'false'), ('loop-limit:again.false->tgt', 'again')]. Reconnect the exec wires or resave the flow.",
        ),
        (
            flow(
                vec![start(&[], json!({})), node("j", "join_exec", &[">"], &[">"], json!({}))],
                vec![edge("start", "j")],
            ),
            "Join Exec node 'j' must have an outgoing exec edge.",
        ),
    ];
    let provides_mux = |t: &str| if t == "path_mux" { Some(true) } else { provides(t) };
    for (flow, message) in cases {
        match CompiledFlow::compile(&flow, &provides_mux) {
            Err(FlowError::Invalid(got)) => assert_eq!(got, message),
            other => panic!("expected {message:?}, got {other:?}"),
        }
    }
}

#[test]
fn every_node_entered_several_ways_gets_a_join_that_says_which() {
    // As in the reference, even a join placed by hand gets one in front of it (recorded in
    // `engine-join-exec-*`): it is then entered one way only.
    let flow = flow(
        vec![
            start(&["go"], json!({})),
            node("if", "if", &[">", "condition"], &[">true", ">false"], json!({})),
            node("j", "join_exec", &[">"], &[">"], json!({})),
            node("end", "on_flow_end", &[">", "which", "from", "from_handle", "branch"], &[], json!({})),
        ],
        vec![
            edge("start", "if"),
            edge("start.go", "if.condition"),
            edge("if.false", "j"),
            edge("if.true", "j"),
            edge("j", "end"),
            edge("j.which", "end.which"),
            edge("j.from", "end.from"),
            edge("j.from_handle", "end.from_handle"),
        ],
    );
    for (go, which, branch) in [(true, 1, "true"), (false, 0, "false")] {
        let (run, _) = run_flow(&flow, json!({"go": go}), 100);
        let from = "__internal_join_exec__j";
        assert_eq!(
            output(&run),
            json!({"which": 0, "from": from, "from_handle": "exec-out", "branch": branch, "success": true})
        );
        assert_eq!(run.exec.outputs[from], json!({"which": which, "from": "if", "from_handle": branch}));
    }

    // Two identical wires into one node are ambiguous.
    let twice = super::flow(vec![start(&[], json!({})), end(&[])], vec![edge("start", "end"), edge("start", "end")]);
    assert_eq!(
        CompiledFlow::compile(&twice, &provides).err(),
        Some(FlowError::Invalid("Node 'end' has duplicate entryRoutes keys: ['start::exec-out']".into()))
    );
}

#[test]
fn trigger_nodes_read_their_event_from_the_input() {
    let user = flow(
        vec![
            node("start", "on_user_request", &[], &[">", "message", "context"], json!({})),
            end(&["message", "context"]),
        ],
        vec![edge("start", "end"), edge("start.message", "end.message"), edge("start.context", "end.context")],
    );
    let (run, _) = run_flow(&user, json!({"message": "hi", "context": {"k": 1}}), 100);
    assert_eq!(output(&run), json!({"message": "hi", "context": {"k": 1}, "success": true}));
    let (run, _) = run_flow(&user, json!({}), 100);
    assert_eq!(output(&run), json!({"message": "", "context": {}, "success": true}));

    let agent = flow(
        vec![with(
            node("start", "on_agent_message", &[], &[">", "sender", "message", "channel"], json!({})),
            json!({"eventConfig": {"channel": "ops"}}),
        )],
        vec![],
    );
    let (run, _) = run_flow(&agent, json!({"message": "yo"}), 100);
    assert_eq!(output(&run), json!({"sender": "unknown", "message": "yo", "channel": "ops", "success": true}));
}

#[test]
fn the_new_state_survives_a_checkpoint() {
    let mut state = super::super::ExecState::starting_at("a".into());
    let plain = serde_json::to_value(&state).expect("serializes");
    assert!(plain.get("came_from").is_none() && plain.get("loop_limits").is_none(), "unused, not written");
    state.came_from = Some(super::super::control::CameFrom("if".into(), "true".into()));
    state.loop_limits.insert("ll".into(), json!({"scope": "for:3:1", "count": 1}));
    let text = serde_json::to_string(&state).expect("serializes");
    let back: super::super::ExecState = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, state);
    let old: super::super::exec::Frame = serde_json::from_value(json!({"kind": "while", "node": "w", "index": 2}))
        .expect("a frame saved before entry tags");
    assert_eq!(old, super::super::exec::Frame::While { node: "w".into(), index: 2, entry: 0 });
}

#[test]
fn string_template_is_given_the_run_variables() {
    struct Template(Option<Value>);
    impl NodeExecutor for Template {
        fn execute(&mut self, call: NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
            self.0 = call.inputs.get("_run_vars").cloned();
            Ok(Map::from_iter([("result".into(), json!("rendered"))]))
        }
    }
    let flow = flow(
        vec![
            start(&[], json!({})),
            node("t", "string_template", &["template"], &["result"], json!({"template": "{{ n }}"})),
            end(&["text"]),
        ],
        vec![edge("start", "end"), edge("t.result", "end.text")],
    );
    let compiled = CompiledFlow::compile(&flow, &|t| (t == "string_template").then_some(true)).expect("compiles");
    let env = FakeEnv::default();
    let mut run = RunState::new(NewRun {
        run_id: "r1".into(),
        flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() },
        input_data: json!({"n": 3, "_hidden": 1}).as_object().cloned().unwrap_or_default(),
        session_id: None,
        parent_run_id: None,
        workspace_root: "/tmp/ws".into(),
        entry_node: compiled.entry.clone(),
        now: env.now_iso(),
    });
    let mut template = Template(None);
    while tick(&compiled, &mut run, &mut template, &env, TickLimits::default()) == TickOutcome::Yielded {}
    assert_eq!(output(&run)["text"], "rendered");
    assert_eq!(template.0, Some(json!({"n": 3})), "the variables, without their `_` keys");
}

#[test]
fn set_var_writes_dotted_paths_as_the_reference() {
    let set = |name: &str| {
        let flow = flow(
            vec![
                start(&[], json!({})),
                node("s", "set_var", &[">", "name", "value"], &[">", "value"], json!({"name": name, "value": 1})),
            ],
            vec![edge("start", "s")],
        );
        run_flow(&flow, json!({"a": [0]}), 100).0
    };
    assert_eq!(set("a..b.").exec.vars["a"], json!({"b": 1}), "empty parts are skipped, a list replaced");
    failed_with(&set("."), "Failed to set variable '.': Variable name must be non-empty");
}

#[test]
fn lowering_a_wide_fan_in_takes_linear_time() {
    // 20 000 ways into one node, each with a per-path value, and as many limited wires.
    let n = 20_000;
    let mut nodes = vec![start(&[], json!({})), node("seq", "sequence", &[">"], &[], json!({}))];
    let mut edges = vec![edge("start", "seq")];
    let mut overrides = Map::new();
    for i in 0..n {
        nodes.push(node(&format!("s{i}"), "set_var", &[">", "name", "value"], &[">"], json!({"name": "v"})));
        edges.push(edge(&format!("seq.then:{i}"), &format!("s{i}")));
        let wire = if i % 2 == 0 { edge(&format!("s{i}"), "tgt") } else { limited(&format!("s{i}"), "tgt", json!(1)) };
        edges.push(wire);
        let key = if i % 2 == 0 { format!("s{i}::exec-out") } else { format!("loop-limit:s{i}.exec-out->tgt::again") };
        overrides.insert(key, json!({"sourceNodeId": "start", "sourceHandle": "x"}));
    }
    nodes.push(with(add_to_list("tgt", "log", json!(1)), json!({"inputRouteOverrides": {"item": overrides}})));
    let started = std::time::Instant::now();
    let provides_mux = |t: &str| if t == "path_mux" { Some(true) } else { provides(t) };
    let compiled = CompiledFlow::compile(&flow(nodes, edges), &provides_mux).expect("compiles");
    assert!(compiled.node("__internal_path_mux__tgt__item").is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}
