#!/usr/bin/env python3
"""Writes the `data-nodes` test bundle: sources in tests/data/durable-flows/src/data-nodes/
and the packed tests/data/durable-flows/data-nodes@0.1.0.flow (entries sorted, fixed
2026-12-04 12:00 timestamp, so re-packing is byte-identical).

Flow `objects`: JSON text from the start node goes through parse_json, break_object, get,
set, make_array, array_concat, array_dedup, array_length, get_element, stringify_json and
make_context; `on_flow_end` collects the results. Flow `agent-meta`: make_meta,
make_scratchpad, merge and path_mux.

    python3 scripts/make_data_nodes_bundle.py
"""

from __future__ import annotations

import json
import os
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "durable-flows")
BUNDLE = "data-nodes"
STAMP = (2026, 12, 4, 12, 0, 0)


def pin(pid: str, kind: str) -> dict:
    return {"id": pid, "label": "" if kind == "execution" else pid, "type": kind}


def node(nid: str, ntype: str, x: int, inputs=(), outputs=(), **data) -> dict:
    body = {"nodeType": ntype, "label": ntype, "inputs": [pin(*p) for p in inputs], "outputs": [pin(*p) for p in outputs]}
    body.update(data)
    return {"id": nid, "type": ntype, "position": {"x": x, "y": 0}, "data": body}


def edge(n: int, source: str, handle: str, target: str, target_handle: str) -> dict:
    return {"id": f"e{n}", "source": source, "sourceHandle": handle, "target": target, "targetHandle": target_handle}


def wire(pairs):
    return [edge(i, *p) for i, p in enumerate(pairs)]


EXEC_IN = ("exec-in", "execution")
EXEC_OUT = ("exec-out", "execution")


def objects_flow() -> dict:
    nodes = [
        node("start", "on_flow_start", 0, outputs=[EXEC_OUT, ("text", "string"), ("items", "array"), ("task", "string")],
             pinDefaults={"text": "Sure! ```json\n{\"user\": {\"name\": \"Ada\", \"tags\": [\"x\", \"y\"]}, \"n\": 1}\n```",
                          "items": ["Ada", "z", "x"], "task": "sort"}),
        node("parse", "parse_json", 100, inputs=[("text", "string"), ("wrap_scalar", "boolean")], outputs=[("result", "any")]),
        node("brk", "break_object", 200, inputs=[("object", "object")],
             outputs=[("user.name", "any"), ("user.tags.1", "any"), ("missing", "any")],
             breakConfig={"selectedPaths": ["user.name", "user.tags.1", "missing"]}),
        node("get", "get", 200, inputs=[("object", "object"), ("key", "string"), ("default", "any")], outputs=[("value", "any")],
             pinDefaults={"key": "user.tags[0]", "default": "none"}),
        node("set", "set", 200, inputs=[("object", "object"), ("key", "string"), ("value", "any")], outputs=[("result", "object")],
             pinDefaults={"key": "meta.seen", "value": True}),
        node("arr", "make_array", 300, inputs=[("a", "any"), ("b", "any"), ("c", "any")], outputs=[("result", "array")]),
        node("cat", "array_concat", 400, inputs=[("a", "array"), ("b", "array")], outputs=[("result", "array")]),
        node("dedup", "array_dedup", 500, inputs=[("array", "array"), ("key", "string")], outputs=[("result", "array")]),
        node("len", "array_length", 600, inputs=[("array", "array")], outputs=[("result", "number")]),
        node("last", "get_element", 600, inputs=[("array", "array"), ("index", "number"), ("default", "any")],
             outputs=[("result", "any"), ("found", "boolean")], pinDefaults={"index": -1}),
        node("str", "stringify_json", 300, inputs=[("value", "any"), ("mode", "string"), ("indent", "number"), ("sort_keys", "boolean")],
             outputs=[("result", "string")], pinDefaults={"mode": "minified", "sort_keys": True}),
        node("ctx", "make_context", 600, inputs=[("task", "string"), ("messages", "array"), ("context_extra", "object")],
             outputs=[("context", "object")]),
        node("end", "on_flow_end", 800,
             inputs=[EXEC_IN, ("name", "any"), ("second_tag", "any"), ("missing", "any"), ("first_tag", "any"),
                     ("updated", "object"), ("json", "string"), ("unique", "array"), ("count", "number"),
                     ("last", "any"), ("found", "boolean"), ("context", "object")]),
    ]
    edges = wire([
        ("start", "exec-out", "end", "exec-in"),
        ("start", "text", "parse", "text"),
        ("parse", "result", "brk", "object"),
        ("parse", "result", "get", "object"),
        ("parse", "result", "set", "object"),
        ("brk", "user.name", "arr", "a"),
        ("get", "value", "arr", "b"),
        ("brk", "missing", "arr", "c"),
        ("arr", "result", "cat", "a"),
        ("start", "items", "cat", "b"),
        ("cat", "result", "dedup", "array"),
        ("dedup", "result", "len", "array"),
        ("dedup", "result", "last", "array"),
        ("set", "result", "str", "value"),
        ("start", "task", "ctx", "task"),
        ("dedup", "result", "ctx", "messages"),
        ("brk", "user.name", "end", "name"),
        ("brk", "user.tags.1", "end", "second_tag"),
        ("brk", "missing", "end", "missing"),
        ("get", "value", "end", "first_tag"),
        ("set", "result", "end", "updated"),
        ("str", "result", "end", "json"),
        ("dedup", "result", "end", "unique"),
        ("len", "result", "end", "count"),
        ("last", "result", "end", "last"),
        ("last", "found", "end", "found"),
        ("ctx", "context", "end", "context"),
    ])
    return {"id": "objects", "name": "objects", "description": "parse_json and the object/array nodes on LLM-like text.",
            "interfaces": [], "nodes": nodes, "edges": edges, "entryNode": "start"}


def agent_meta_flow() -> dict:
    nodes = [
        node("start", "on_flow_start", 0,
             outputs=[EXEC_OUT, ("model", "string"), ("iterations", "any"), ("warnings", "any"), ("select", "number")],
             pinDefaults={"model": " gpt ", "iterations": "3.7", "warnings": ["w1", " ", None], "select": 1}),
        node("meta", "make_meta", 100,
             inputs=[("model", "string"), ("iterations", "number"), ("warnings", "array"), ("trace_id", "string"), ("extra", "object")],
             outputs=[("meta", "object")], pinDefaults={"trace_id": " t-1 ", "extra": {"custom": 1, "version": 9}}),
        node("pad", "make_scratchpad", 100, inputs=[("task", "string"), ("steps", "array"), ("tool_calls", "array")],
             outputs=[("scratchpad", "object")], pinDefaults={"task": 42, "steps": "one step"}),
        node("merge", "merge", 200, inputs=[("a", "object"), ("b", "object")], outputs=[("result", "object")],
             pinDefaults={"b": {"version": 2, "added": True}}),
        node("mux", "path_mux", 200, inputs=[("select", "number"), ("in0", "any"), ("in1", "any"), ("fallback", "any")],
             outputs=[("out", "any")], pinDefaults={"in0": "zero", "in1": "one", "fallback": "none"}),
        node("end", "on_flow_end", 400,
             inputs=[EXEC_IN, ("meta", "object"), ("scratchpad", "object"), ("merged", "object"), ("picked", "any")]),
    ]
    edges = wire([
        ("start", "exec-out", "end", "exec-in"),
        ("start", "model", "meta", "model"),
        ("start", "iterations", "meta", "iterations"),
        ("start", "warnings", "meta", "warnings"),
        ("start", "select", "mux", "select"),
        ("meta", "meta", "merge", "a"),
        ("meta", "meta", "end", "meta"),
        ("pad", "scratchpad", "end", "scratchpad"),
        ("merge", "result", "end", "merged"),
        ("mux", "out", "end", "picked"),
    ])
    return {"id": "agent-meta", "name": "agent-meta", "description": "make_meta, make_scratchpad, merge and path_mux.",
            "interfaces": [], "nodes": nodes, "edges": edges, "entryNode": "start"}


def main() -> None:
    flows = {"objects": objects_flow(), "agent-meta": agent_meta_flow()}
    manifest = {
        "bundle_format_version": "1",
        "bundle_id": BUNDLE,
        "bundle_version": "0.1.0",
        "created_at": "2026-12-04T12:00:00+00:00",
        "entrypoints": [{"flow_id": fid, "name": fid, "description": f["description"], "interfaces": []} for fid, f in flows.items()],
        "default_entrypoint": "objects",
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
