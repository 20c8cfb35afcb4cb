#!/usr/bin/env python3
"""Writes the `engine-nodes` test bundle: sources in tests/data/durable-flows/src/engine-nodes/
and the packed tests/data/durable-flows/engine-nodes@0.1.0.flow (entries sorted, fixed
2026-12-05 12:00 timestamp, so re-packing is byte-identical).

Flows (each ends in `on_flow_end` unless its name starts with `end-`):
- `var-reads`: get_var, get_vars, get_context, bool_var and var_decl over the run's variables
  (which start as its input; the start node's defaults are not variables) and a set_var.
- `var-writes`: set_vars, set_var_property (twice on one object) and add_to_list (twice);
  unwired end pins read the ambient, which the writers leave alone.
- `end-set-vars`, `end-set-prop`, `end-add-to-list`, `end-add-message`: a writer ends the flow,
  so the run output is the reference's implicit one (`end-add-message`'s holds a time and an
  id, so it has no recorded case).
- `messages`: add_message with execution pins (appends to context.messages) and without (the
  pure message builder), read back through get_context.
- `parallel`, `parallel-no-completed`, `parallel-in-loop`: branches in pin order, then `completed`.
- `loop-limit-wire`: a limit on the wire looping back from an If/Else's `false`.
- `loop-limit-node`: a loop_limit in a For body (its count restarts each iteration) and one at
  the top level.
- `multi-entry`: a node entered three ways (an If/Else, a node, a limited loop-back wire), with
  a per-path value for one input (`inputRouteOverrides`: join_exec + path_mux).
- `user-request`, `agent-message`: the trigger nodes as entries.
- `datetime-trace`: system_datetime and agent_trace_report.
- `join-exec`: a join_exec placed by hand after an If/Else.
- `template-vars`: string_template reading the run's variables after its pins and `vars`.

    python3 scripts/make_engine_nodes_bundle.py
"""

from __future__ import annotations

import json
import os
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "durable-flows")
BUNDLE = "engine-nodes"
STAMP = (2026, 12, 5, 12, 0, 0)


def pin(pid: str, kind: str) -> dict:
    return {"id": pid, "label": "" if kind == "execution" else pid, "type": kind}


def node(nid: str, ntype: str, x: int, inputs=(), outputs=(), **data) -> dict:
    body = {"nodeType": ntype, "label": ntype, "inputs": [pin(*p) for p in inputs], "outputs": [pin(*p) for p in outputs]}
    body.update(data)
    return {"id": nid, "type": ntype, "position": {"x": x, "y": 0}, "data": body}


def wire(pairs):
    edges = []
    for i, p in enumerate(pairs):
        source, handle, target, target_handle = p[:4]
        e = {"id": f"e{i}", "source": source, "sourceHandle": handle, "target": target, "targetHandle": target_handle}
        if len(p) > 4:
            e["data"] = p[4]
        edges.append(e)
    return edges


def flow(fid: str, description: str, nodes, edges, entry="start") -> dict:
    return {"id": fid, "name": fid, "description": description, "interfaces": [], "nodes": nodes, "edges": edges,
            "entryNode": entry}


EXEC_IN = ("exec-in", "execution")
EXEC_OUT = ("exec-out", "execution")


def end(*pins):
    return node("end", "on_flow_end", 900, inputs=[EXEC_IN] + [(p, "any") for p in pins])


def get_vars(nid, *names):
    return node(nid, "get_vars", 500, outputs=[(n, "any") for n in names])


def add_to_list(nid, name, item=None, wired_items=False):
    defaults = {"name": name}
    if item is not None:
        defaults["item"] = item
    return node(nid, "add_to_list", 300, inputs=[EXEC_IN, ("name", "string"), ("item", "any"), ("items", "array")],
                outputs=[EXEC_OUT, ("list", "array")], pinDefaults=defaults)


def var_reads():
    nodes = [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("flag", "boolean"), ("n", "number"), ("label", "string")],
             pinDefaults={"n": 1, "label": "from-default"}),
        node("name", "get_var", 100, inputs=[("name", "string"), ("default", "any")], outputs=[("value", "any")],
             pinDefaults={"name": "user.name", "default": "nobody"}),
        node("setv", "set_var", 200, inputs=[EXEC_IN, ("name", "string"), ("value", "any")], outputs=[EXEC_OUT, ("value", "any")],
             pinDefaults={"name": "copied"}),
        node("gv_n", "get_var", 300, inputs=[("name", "string"), ("default", "any")], outputs=[("value", "any")],
             pinDefaults={"name": "n"}),
        get_vars("vars", "user.name", "n", "nope", "label", "copied", "flag"),
        node("ctx", "get_context", 500, outputs=[("context", "object"), ("task", "string"), ("messages", "array")]),
        node("flag", "bool_var", 500, outputs=[("name", "string"), ("value", "boolean")], literalValue=" flag "),
        node("nflag", "bool_var", 500, outputs=[("name", "string"), ("value", "boolean")],
             literalValue={"name": "n", "default": True}),
        node("decl_n", "var_decl", 500, outputs=[("name", "string"), ("value", "number")],
             literalValue={"name": "n", "type": "number", "default": 9}),
        node("decl_user", "var_decl", 500, outputs=[("name", "string"), ("value", "object")],
             literalValue={"name": "user", "type": "object", "default": {"name": "default-user"}}),
        node("decl_missing", "var_decl", 500, outputs=[("name", "string"), ("value", "array")],
             literalValue={"name": "missing", "type": "array"}),
        node("decl_bad", "var_decl", 500, outputs=[("name", "string"), ("value", "any")],
             literalValue={"name": "flag", "type": "number", "default": "x"}),
        end("got_n", "got_name", "vars_name", "vars_n", "vars_nope", "vars_label", "vars_copied", "vars_flag",
            "context", "task", "messages", "flag_name", "flag", "nflag", "decl_n", "decl_user", "decl_missing",
            "decl_bad"),
    ]
    edges = wire([
        ("start", "exec-out", "setv", "exec-in"),
        ("setv", "exec-out", "end", "exec-in"),
        ("name", "value", "setv", "value"),
        ("gv_n", "value", "end", "got_n"),
        ("name", "value", "end", "got_name"),
        ("vars", "user.name", "end", "vars_name"),
        ("vars", "n", "end", "vars_n"),
        ("vars", "nope", "end", "vars_nope"),
        ("vars", "label", "end", "vars_label"),
        ("vars", "copied", "end", "vars_copied"),
        ("vars", "flag", "end", "vars_flag"),
        ("ctx", "context", "end", "context"),
        ("ctx", "task", "end", "task"),
        ("ctx", "messages", "end", "messages"),
        ("flag", "name", "end", "flag_name"),
        ("flag", "value", "end", "flag"),
        ("nflag", "value", "end", "nflag"),
        ("decl_n", "value", "end", "decl_n"),
        ("decl_user", "value", "end", "decl_user"),
        ("decl_missing", "value", "end", "decl_missing"),
        ("decl_bad", "value", "end", "decl_bad"),
    ])
    return flow("var-reads", "The pure variable readers over the run's input.", nodes, edges)


def var_writes():
    nodes = [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("hp", "number"), ("extra", "any")],
             pinDefaults={"hp": 10, "extra": ["b", "c"]}),
        node("sv", "set_vars", 100, inputs=[EXEC_IN, ("updates", "object"), ("score", "number")],
             outputs=[EXEC_OUT, ("updates", "object")],
             pinDefaults={"updates": {"a.b": 1, "name": "x", " spaced ": True, "score": 0}, "score": 5}),
        node("svp", "set_var_property", 200, inputs=[EXEC_IN, ("name", "string"), ("key", "string"), ("value", "any")],
             outputs=[EXEC_OUT, ("value", "object")], pinDefaults={"name": "state", "key": "stats.hp"}),
        node("label", "literal_string", 200, outputs=[("value", "string")], literalValue="hero"),
        node("svp2", "set_var_property", 300, inputs=[EXEC_IN, ("name", "string"), ("key", "string"), ("value", "any")],
             outputs=[EXEC_OUT, ("value", "object")], pinDefaults={"name": " state ", "key": "label"}),
        add_to_list("atl", "log", item="first"),
        add_to_list("atl2", "log", item={"k": 1}),
        get_vars("vars", "a", "name", "spaced", "score", "state", "log"),
        end("updates", "prop", "prop2", "list", "list2", "vars_a", "vars_name", "vars_spaced", "vars_score",
            "vars_state", "vars_log", "hp", "extra"),
    ]
    edges = wire([
        ("start", "exec-out", "sv", "exec-in"),
        ("sv", "exec-out", "svp", "exec-in"),
        ("svp", "exec-out", "svp2", "exec-in"),
        ("svp2", "exec-out", "atl", "exec-in"),
        ("atl", "exec-out", "atl2", "exec-in"),
        ("atl2", "exec-out", "end", "exec-in"),
        ("start", "hp", "svp", "value"),
        ("label", "value", "svp2", "value"),
        ("start", "extra", "atl", "items"),
        ("sv", "updates", "end", "updates"),
        ("svp", "value", "end", "prop"),
        ("svp2", "value", "end", "prop2"),
        ("atl", "list", "end", "list"),
        ("atl2", "list", "end", "list2"),
        ("vars", "a", "end", "vars_a"),
        ("vars", "name", "end", "vars_name"),
        ("vars", "spaced", "end", "vars_spaced"),
        ("vars", "score", "end", "vars_score"),
        ("vars", "state", "end", "vars_state"),
        ("vars", "log", "end", "vars_log"),
    ])
    return flow("var-writes", "set_vars, set_var_property and add_to_list; the ambient passes through.", nodes, edges)


def end_flows():
    start = lambda: node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("seed", "any")], pinDefaults={"seed": "s"})
    flows = []
    flows.append(flow("end-set-vars", "set_vars ends the flow.", [
        start(),
        node("w", "set_vars", 100, inputs=[EXEC_IN, ("updates", "object"), ("x", "number")],
             outputs=[EXEC_OUT, ("updates", "object")], pinDefaults={"updates": "{\"j\": [1, 2]}", "x": 3}),
    ], wire([("start", "exec-out", "w", "exec-in")])))
    flows.append(flow("end-set-prop", "set_var_property ends the flow.", [
        start(),
        node("w", "set_var_property", 100, inputs=[EXEC_IN, ("name", "string"), ("key", "string"), ("value", "any")],
             outputs=[EXEC_OUT, ("value", "object")], pinDefaults={"name": "seed", "key": "a..b", "value": 2}),
    ], wire([("start", "exec-out", "w", "exec-in")])))
    flows.append(flow("end-add-to-list", "add_to_list ends the flow.", [
        start(), add_to_list("w", "seed_list", item=0),
    ], wire([("start", "exec-out", "w", "exec-in")])))
    flows.append(flow("end-add-message", "add_message ends the flow.", [
        start(),
        node("w", "add_message", 100, inputs=[EXEC_IN, ("role", "string"), ("content", "string")],
             outputs=[EXEC_OUT, ("message", "object"), ("context", "object"), ("task", "string"), ("messages", "array")],
             pinDefaults={"role": "system", "content": "be brief"}),
    ], wire([("start", "exec-out", "w", "exec-in")])))
    return flows


def messages():
    msg_pins = [EXEC_OUT, ("message", "object"), ("context", "object"), ("task", "string"), ("messages", "array")]
    nodes = [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("role", "string"), ("text", "string")],
             pinDefaults={"role": "assistant", "text": "hello"}),
        node("am1", "add_message", 100, inputs=[EXEC_IN, ("role", "string"), ("content", "string")], outputs=msg_pins),
        node("am2", "add_message", 200, inputs=[EXEC_IN, ("role", "string"), ("content", "string")], outputs=msg_pins,
             pinDefaults={"content": 42}),
        node("pure", "add_message", 200, inputs=[("role", "string"), ("content", "string")], outputs=[("message", "object")],
             pinDefaults={"content": "pure"}),
        node("ctx", "get_context", 300, outputs=[("context", "object"), ("task", "string"), ("messages", "array")]),
        node("roles", "array_map", 400, inputs=[("items", "array"), ("key", "string")], outputs=[("result", "array")],
             pinDefaults={"key": "role"}),
        node("contents", "array_map", 400, inputs=[("items", "array"), ("key", "string")], outputs=[("result", "array")],
             pinDefaults={"key": "content"}),
        node("count1", "array_length", 400, inputs=[("array", "array")], outputs=[("result", "number")]),
        node("m1role", "get", 400, inputs=[("object", "object"), ("key", "string"), ("default", "any")],
             outputs=[("value", "any")], pinDefaults={"key": "role"}),
        node("m2task", "get", 400, inputs=[("object", "object"), ("key", "string"), ("default", "any")],
             outputs=[("value", "any")], pinDefaults={"key": "task", "default": "no task"}),
        node("pure_role", "get", 400, inputs=[("object", "object"), ("key", "string"), ("default", "any")],
             outputs=[("value", "any")], pinDefaults={"key": "role"}),
        node("pure_content", "get", 400, inputs=[("object", "object"), ("key", "string"), ("default", "any")],
             outputs=[("value", "any")], pinDefaults={"key": "content"}),
        end("roles", "contents", "task", "count_after_first", "first_role", "am2_task", "am2_ctx_task", "pure_role",
            "pure_content", "role", "text"),
    ]
    edges = wire([
        ("start", "exec-out", "am1", "exec-in"),
        ("am1", "exec-out", "am2", "exec-in"),
        ("am2", "exec-out", "end", "exec-in"),
        ("start", "role", "am1", "role"),
        ("start", "text", "am1", "content"),
        ("ctx", "messages", "roles", "items"),
        ("ctx", "messages", "contents", "items"),
        ("am1", "messages", "count1", "array"),
        ("am1", "message", "m1role", "object"),
        ("am2", "context", "m2task", "object"),
        ("pure", "message", "pure_role", "object"),
        ("pure", "message", "pure_content", "object"),
        ("roles", "result", "end", "roles"),
        ("contents", "result", "end", "contents"),
        ("ctx", "task", "end", "task"),
        ("count1", "result", "end", "count_after_first"),
        ("m1role", "value", "end", "first_role"),
        ("am2", "task", "end", "am2_task"),
        ("m2task", "value", "end", "am2_ctx_task"),
        ("pure_role", "value", "end", "pure_role"),
        ("pure_content", "value", "end", "pure_content"),
    ])
    return flow("messages", "add_message with and without execution pins.", nodes, edges)


PAR_OUT = [("then:0", "execution"), ("then:1", "execution"), ("completed", "execution")]


def parallel_flows():
    a = flow("parallel", "Parallel branches in pin order, then completed.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("seed", "any")], pinDefaults={"seed": "s"}),
        node("par", "parallel", 100, inputs=[EXEC_IN], outputs=PAR_OUT),
        add_to_list("b1", "log", item="one"),
        add_to_list("b1b", "log", item="one-b"),
        add_to_list("b0", "log", item="zero"),
        add_to_list("done", "log", item="done"),
        get_vars("vars", "log"),
        end("log", "seed"),
    ], wire([
        ("start", "exec-out", "par", "exec-in"),
        ("par", "then:1", "b1", "exec-in"),
        ("b1", "exec-out", "b1b", "exec-in"),
        ("par", "completed", "done", "exec-in"),
        ("par", "then:0", "b0", "exec-in"),
        ("done", "exec-out", "end", "exec-in"),
        ("vars", "log", "end", "log"),
    ]))
    b = flow("parallel-no-completed", "A parallel whose completed pin is not wired ends the flow.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("seed", "any")], pinDefaults={"seed": "s"}),
        node("par", "parallel", 100, inputs=[EXEC_IN], outputs=PAR_OUT),
        add_to_list("b0", "log", item="zero"),
    ], wire([
        ("start", "exec-out", "par", "exec-in"),
        ("par", "then:0", "b0", "exec-in"),
    ]))
    c = flow("parallel-in-loop", "A parallel in a For body: completed runs, then the next iteration.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT]),
        node("for", "for", 100, inputs=[EXEC_IN, ("start", "number"), ("end", "number"), ("step", "number")],
             outputs=[("loop", "execution"), ("done", "execution"), ("i", "number"), ("index", "number")],
             pinDefaults={"start": 0, "end": 2, "step": 1}),
        node("par", "parallel", 200, inputs=[EXEC_IN], outputs=PAR_OUT),
        node("b0", "add_to_list", 300, inputs=[EXEC_IN, ("name", "string"), ("item", "any"), ("items", "array")],
             outputs=[EXEC_OUT, ("list", "array")], pinDefaults={"name": "log"}),
        add_to_list("b1", "log", item="b1"),
        add_to_list("c", "log", item="completed"),
        get_vars("vars", "log"),
        end("log", "i", "index"),
    ], wire([
        ("start", "exec-out", "for", "exec-in"),
        ("for", "loop", "par", "exec-in"),
        ("par", "then:0", "b0", "exec-in"),
        ("par", "then:1", "b1", "exec-in"),
        ("par", "completed", "c", "exec-in"),
        ("for", "i", "b0", "item"),
        ("for", "done", "end", "exec-in"),
        ("vars", "log", "end", "log"),
    ]))
    return [a, b, c]


def loop_limit_flows():
    a = flow("loop-limit-wire", "A limit of 2 on the If/Else false wire that loops back.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("stop", "boolean")], pinDefaults={"stop": False}),
        add_to_list("add", "log", item="x"),
        node("if", "if", 200, inputs=[EXEC_IN, ("condition", "boolean")],
             outputs=[("true", "execution"), ("false", "execution")]),
        get_vars("vars", "log"),
        end("log", "branch", "count", "condition"),
    ], wire([
        ("start", "exec-out", "add", "exec-in"),
        ("add", "exec-out", "if", "exec-in"),
        ("if", "false", "add", "exec-in", {"loopLimit": {"max": 2}}),
        ("if", "true", "end", "exec-in"),
        ("start", "stop", "if", "condition"),
        ("vars", "log", "end", "log"),
    ]))
    b = flow("loop-limit-node", "loop_limit nodes: in a For body (per iteration) and at the top level.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("top", "number")], pinDefaults={"top": 2}),
        node("for", "for", 100, inputs=[EXEC_IN, ("start", "number"), ("end", "number"), ("step", "number")],
             outputs=[("loop", "execution"), ("done", "execution"), ("i", "number"), ("index", "number")],
             pinDefaults={"start": 0, "end": 3, "step": 1}),
        node("item", "add_to_list", 200, inputs=[EXEC_IN, ("name", "string"), ("item", "any"), ("items", "array")],
             outputs=[EXEC_OUT, ("list", "array")], pinDefaults={"name": "log"}),
        node("ll", "loop_limit", 300, inputs=[EXEC_IN, ("max", "number")],
             outputs=[("again", "execution"), ("limit_reached", "execution"), ("count", "number")],
             pinDefaults={"max": 1}),
        add_to_list("again", "log", item="again"),
        node("top", "loop_limit", 400, inputs=[EXEC_IN, ("max", "number")],
             outputs=[("again", "execution"), ("limit_reached", "execution"), ("count", "number")]),
        add_to_list("topadd", "log", item="top"),
        get_vars("vars", "log"),
        end("log", "count", "branch", "ll_count"),
    ], wire([
        ("start", "exec-out", "for", "exec-in"),
        ("for", "loop", "item", "exec-in"),
        ("for", "i", "item", "item"),
        ("item", "exec-out", "ll", "exec-in"),
        ("ll", "again", "again", "exec-in"),
        ("again", "exec-out", "ll", "exec-in"),
        ("for", "done", "top", "exec-in"),
        ("start", "top", "top", "max"),
        ("top", "again", "topadd", "exec-in"),
        ("topadd", "exec-out", "top", "exec-in"),
        ("top", "limit_reached", "end", "exec-in"),
        ("vars", "log", "end", "log"),
        ("ll", "count", "end", "ll_count"),
    ]))
    return [a, b]


def multi_entry():
    route = lambda src, handle: {"sourceNodeId": src, "sourceHandle": handle}
    nodes = [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("first", "boolean")], pinDefaults={"first": True}),
        node("if", "if", 100, inputs=[EXEC_IN, ("condition", "boolean")],
             outputs=[("true", "execution"), ("false", "execution")]),
        add_to_list("pre", "log", item="T"),
        node("lit_a", "literal_string", 100, outputs=[("value", "string")], literalValue="A"),
        node("lit_b", "literal_string", 100, outputs=[("value", "string")], literalValue="B"),
        node("lit_c", "literal_string", 100, outputs=[("value", "string")], literalValue="C"),
        node("tgt", "add_to_list", 300, inputs=[EXEC_IN, ("name", "string"), ("item", "any"), ("items", "array")],
             outputs=[EXEC_OUT, ("list", "array")], pinDefaults={"name": "log", "item": "base"},
             inputRouteOverrides={"item": {"pre::exec-out": route("lit_a", "value"), "if::false": route("lit_b", "value"),
                                           "again::false": route("lit_c", "value")}}),
        node("again", "if", 400, inputs=[EXEC_IN, ("condition", "boolean")],
             outputs=[("true", "execution"), ("false", "execution")], pinDefaults={"condition": False}),
        get_vars("vars", "log"),
        end("log", "which"),
    ]
    edges = wire([
        ("start", "exec-out", "if", "exec-in"),
        ("start", "first", "if", "condition"),
        ("if", "true", "pre", "exec-in"),
        ("pre", "exec-out", "tgt", "exec-in"),
        ("if", "false", "tgt", "exec-in"),
        ("tgt", "exec-out", "again", "exec-in"),
        ("again", "false", "tgt", "exec-in", {"loopLimit": {"max": 1}}),
        ("again", "true", "end", "exec-in"),
        ("vars", "log", "end", "log"),
    ])
    return flow("multi-entry", "Per-path input values on a node entered three ways.", nodes, edges)


def triggers():
    a = flow("user-request", "on_user_request as the entry.", [
        node("start", "on_user_request", 0, outputs=[EXEC_OUT, ("message", "string"), ("context", "object")]),
        end("message", "context"),
    ], wire([
        ("start", "exec-out", "end", "exec-in"),
        ("start", "message", "end", "message"),
        ("start", "context", "end", "context"),
    ]))
    b = flow("agent-message", "on_agent_message as the entry.", [
        node("start", "on_agent_message", 0, outputs=[EXEC_OUT, ("sender", "string"), ("message", "string"), ("channel", "string")],
             eventConfig={"channel": "ops"}),
        end("sender", "message", "channel"),
    ], wire([
        ("start", "exec-out", "end", "exec-in"),
        ("start", "sender", "end", "sender"),
        ("start", "message", "end", "message"),
        ("start", "channel", "end", "channel"),
    ]))
    return [a, b]


def datetime_trace():
    scratchpad = {
        "sub_run_id": "sub-1",
        "workflow_id": "wf",
        "node_traces": {
            "llm": {"steps": [
                {"ts": "2026-01-01T00:00:02Z", "status": "completed", "effect": {"type": "llm_call"}, "duration_ms": 12.3456,
                 "result": {"content": "Let me look.", "model": "m1", "finish_reason": "tool_calls",
                            "tool_calls": [{"name": "read_file", "call_id": "c1"}]}},
            ]},
            "tools": {"steps": [
                {"ts": "2026-01-01T00:00:03Z", "status": "completed", "effect": {"type": "tool_calls", "payload": {
                    "tool_calls": [{"name": "read_file", "call_id": "c1", "arguments": {"path": "a.txt"}}]}},
                 "result": {"results": [{"call_id": "c1", "success": True, "output": {"text": "hi"}}]}},
                {"ts": "2026-01-01T00:00:01Z", "status": "failed", "effect": {"type": "wait"}, "error": "boom"},
            ]},
        },
    }
    return flow("datetime-trace", "system_datetime and agent_trace_report.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("scratchpad", "object")], pinDefaults={"scratchpad": scratchpad}),
        node("now", "system_datetime", 100, outputs=[("iso", "string"), ("timezone", "string"),
                                                     ("utc_offset_minutes", "number"), ("locale", "string")]),
        node("report", "agent_trace_report", 100, inputs=[("scratchpad", "object")], outputs=[("result", "string")]),
        end("offset", "timezone", "report"),
    ], wire([
        ("start", "exec-out", "end", "exec-in"),
        ("start", "scratchpad", "report", "scratchpad"),
        ("now", "utc_offset_minutes", "end", "offset"),
        ("now", "timezone", "end", "timezone"),
        ("report", "result", "end", "report"),
    ]))


def join_exec():
    return flow("join-exec", "A join_exec placed by hand says which of its ways came in.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("go", "boolean")], pinDefaults={"go": True}),
        node("if", "if", 100, inputs=[EXEC_IN, ("condition", "boolean")],
             outputs=[("true", "execution"), ("false", "execution")]),
        node("join", "join_exec", 200, inputs=[EXEC_IN], outputs=[EXEC_OUT, ("which", "number"), ("from", "string"),
                                                                   ("from_handle", "string")]),
        end("which", "from", "from_handle", "branch"),
    ], wire([
        ("start", "exec-out", "if", "exec-in"),
        ("start", "go", "if", "condition"),
        ("if", "false", "join", "exec-in"),
        ("if", "true", "join", "exec-in"),
        ("join", "exec-out", "end", "exec-in"),
        ("join", "which", "end", "which"),
        ("join", "from", "end", "from"),
        ("join", "from_handle", "end", "from_handle"),
    ]))


def template_vars():
    return flow("template-vars", "string_template falls back to the run's variables.", [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("who", "string")], pinDefaults={"who": "pin"}),
        node("t", "string_template", 100, inputs=[("template", "string"), ("who", "string"), ("vars", "object")],
             outputs=[("result", "string")],
             pinDefaults={"template": "{{ who }}/{{ user.name }}/{{ n }}/{{ shadow }}/{{ _hidden }}/{{ missing }}",
                          "vars": {"shadow": "from vars"}}),
        end("text"),
    ], wire([
        ("start", "exec-out", "end", "exec-in"),
        ("start", "who", "t", "who"),
        ("t", "result", "end", "text"),
    ]))


def main() -> None:
    all_flows = [var_reads(), var_writes(), *end_flows(), messages(), *parallel_flows(), *loop_limit_flows(),
                 multi_entry(), *triggers(), datetime_trace(), template_vars(), join_exec()]
    flows = {f["id"]: f for f in all_flows}
    manifest = {
        "bundle_format_version": "1",
        "bundle_id": BUNDLE,
        "bundle_version": "0.1.0",
        "created_at": "2026-12-05T12:00:00+00:00",
        "entrypoints": [{"flow_id": fid, "name": fid, "description": f["description"], "interfaces": []} for fid, f in flows.items()],
        "default_entrypoint": "var-reads",
        "flows": {fid: f"flows/{fid}.json" for fid in flows},
        "assets": {},
        "artifacts": {},
        "metadata": {},
    }
    files = {"manifest.json": manifest, **{f"flows/{fid}.json": f for fid, f in flows.items()}}
    src = os.path.join(ROOT, "src", BUNDLE)
    for name, content in files.items():
        path = os.path.join(src, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(content, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    target = os.path.join(ROOT, f"{BUNDLE}@0.1.0.flow")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            with open(os.path.join(src, name), "rb") as fh:
                zf.writestr(zipfile.ZipInfo(name, STAMP), fh.read(), zipfile.ZIP_DEFLATED)
    print(f"wrote {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
