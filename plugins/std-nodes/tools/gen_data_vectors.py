#!/usr/bin/env python3
"""Generate the data-node vectors (objects, arrays, JSON, agent-context helpers, the agent
trace report) from the
reference implementation, the same way `gen_vectors.py` does for math/string/logic.

How to run (needs only abstractruntime 0.13.0):

    venv/bin/python plugins/std-nodes/tools/gen_data_vectors.py [OUT]

OUT defaults to ../data-vectors.json next to this script.

Builtins (`get`, `set`, `merge`, `make_object`, `parse_json`, ...) are called through the
executor's `_wrap_builtin`, as in `gen_vectors.py`. `make_array`, `array_concat`,
`break_object` and `tool_parameters` have no builtin: the executor builds them with its own
nested `_create_*_handler`, rebuilt here from `visual_to_flow`'s code object.

Vector shapes are those of `vectors.json`, plus `"expect_one_of": [...]` for
`get_random_element` (the `result` must be one of them, `found` must be true).

Left out on purpose (the plugin fails the node where the reference renders them with `str()`):
Python set, complex and Ellipsis literals and `\\N{name}` escapes in `ast.literal_eval` input, and
integers beyond 128 bits written in hex, octal or binary.

Values JSON cannot carry: besides inf/nan, integers outside [-2**63, 2**64) (Python ints are
unbounded, the gateway's JSON numbers are not) make a vector `expect_error` with a `note`.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_vectors as g  # noqa: E402

_NESTED = {
    name: g._nested(g._executor.visual_to_flow, f"_create_{name}_handler", {})
    for name in ("make_array", "array_concat", "break_object", "tool_parameters")
}


def handler_for(node_type: str, config: dict):
    if node_type in _NESTED:
        return _NESTED[node_type](config)
    return g.reference_handler(node_type, config)


def representable(value) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**64
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)  # lone surrogates: not UTF-8
    if isinstance(value, list):
        return all(representable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and representable(k) and representable(v) for k, v in value.items())
    return g._representable(value)


def vector(node_type: str, inputs: dict, config: dict | None = None) -> dict:
    config = config or {}
    handler = handler_for(node_type, config)
    case = {"node_type": node_type, "inputs": inputs, "config": config}
    try:
        returned = handler(json.loads(json.dumps(inputs)))
    except Exception as exc:  # the reference raises: the plugin must fail too
        case["expect_error"] = True
        # Object addresses (`<ast.Name object at 0x...>`) differ run to run.
        case["reference_error"] = re.sub(r" at 0x[0-9a-f]+", "", f"{type(exc).__name__}: {exc}")
        return case
    if not representable(returned):
        case["expect_error"] = True
        case["note"] = f"reference returns {returned!r}, which JSON cannot carry"
        return case
    case["expect"] = g.output_object(returned)
    return case


def pins(*ids: str) -> dict:
    return {"inputs": [{"id": "exec-in", "type": "execution"}] + [{"id": i, "type": "any"} for i in ids]}


# --------------------------------------------------------------------------------------------

def object_cases():
    out = []
    nested = {"a": {"b": {"c": 1}}, "list": [10, {"x": "y"}, [5, 6]], "n": None, "z": 0, "e": "", "0": "zero"}
    for key in ["a", "a.b", "a.b.c", "a.b.c.d", "list", "list[0]", "list.0", "list[1].x", "list.1.x", "list[2][1]",
                "list[9]", "list.-1", "list[-1]", "n", "z", "e", "0", "[0]", " a . b ", "a..b", "a[b]", "", "  ",
                "missing", "list[x]", "a.b[0]", "list[01]", "list.01", "é", "a.b.c.", "."]:
        out.append(vector("get", {"object": nested, "key": key, "default": "dflt"}))
    for inp in [
        {"object": nested, "key": "a.b"}, {"object": nested}, {"key": "a"}, {}, {"object": None, "key": "a"},
        {"object": "text", "key": "0"}, {"object": [1, 2], "key": "1"}, {"object": [1, 2], "key": "[1]"},
        {"object": {"a": 1}, "key": None}, {"object": {"None": 5}, "key": None}, {"object": {"1": "one"}, "key": 1},
        {"object": {"1.5": "x"}, "key": 1.5}, {"object": {"True": "t"}, "key": True}, {"object": {"a": False}, "key": "a", "default": 1},
        {"object": {"a": None}, "key": "a", "default": [1]}, {"object": {"é": {"ü": "ok"}}, "key": "é.ü"},
        {"object": {"a b": 1}, "key": "a b"}, {"object": {"a": [[1, [2, 3]]]}, "key": "a[0][1][0]"},
    ]:
        out.append(vector("get", inp))

    for inp in [
        {"object": {"a": 1}, "key": "b", "value": 2}, {"object": {"a": 1}, "key": "a", "value": 2},
        {"object": {"a": 1, "b": 2}, "key": "a", "value": None}, {"object": {"a": 1}, "key": "x.y.z", "value": True},
        {"object": {"x": 5, "k": 1}, "key": "x.y", "value": "v"}, {"object": {"x": {"y": 1, "w": 2}}, "key": "x.y", "value": 9},
        {"object": {}, "key": "", "value": 1}, {"object": {}, "key": ".", "value": 1}, {"object": {}, "key": "a..b", "value": 1},
        {"object": {"a": 1}}, {"key": "k", "value": 1}, {}, {"object": None, "key": "k", "value": 1},
        {"object": [["k", "v"], ["k2", 2]], "key": "z", "value": 3}, {"object": ["ab", "cd"], "key": "z", "value": 3},
        {"object": [[1, "v"]], "key": "z", "value": 3}, {"object": "ab", "key": "z", "value": 3}, {"object": 5, "key": "z"},
        {"object": [["k"]], "key": "z"}, {"object": [{"p": 1, "q": 2}], "key": "z"}, {"object": [[[1], 2]], "key": "z"},
        {"object": {"a": 1}, "key": None, "value": 2}, {"object": {"a": 1}, "key": 3, "value": 2},
        {"object": {"a": [1, 2]}, "key": "a.0", "value": "x"}, {"object": {"é": 1}, "key": "é.ü", "value": "ünï"},
        {"object": {"a": {"b": 1}}, "key": "a.b", "value": {"deep": [1, {"x": None}]}},
    ]:
        out.append(vector("set", inp))

    for inp in [
        {"a": {"x": 1, "y": 2}, "b": {"y": 3, "z": 4}}, {"a": {"x": 1}}, {"b": {"x": 1}}, {},
        {"a": None, "b": {"x": 1}}, {"a": {"x": 1}, "b": None}, {"a": [["k", 1]], "b": {"k": 2}}, {"a": "xy", "b": {}},
        {"a": {"result": 1}, "b": {"other": 2}}, {"a": {"b": {"c": 1}}, "b": {"b": {"d": 2}}}, {"a": 1, "b": {}},
        {"a": {"k": 1.0}, "b": {"k": 1}}, {"a": {}, "b": []},
    ]:
        out.append(vector("merge", inp))

    for inp in [
        {"name": "Ada", "age": 36}, {}, {"a": None, "b": [1], "c": {"d": 2}}, {"_hidden": 1, "shown": 2},
        {"result": 5, "x": 1}, {"é": "ü", "_": 0}, {"value": 1.5},
    ]:
        out.append(vector("make_object", inp))

    def brk(paths):
        return {"breakConfig": {"selectedPaths": paths}}

    obj = {"user": {"name": "Ada", "tags": ["a", "b"]}, "n": None, "list": [{"id": 1}, {"id": 2}], "0": "zero"}
    for inp, cfg in [
        ({"object": obj}, brk(["user.name", "user.tags", "user.tags.1", "n", "list.1.id", "missing", "list.5", "0"])),
        ({"object": obj}, brk([" user.name ", "", 5, None, "user..name", "user.tags.-1", "list.01.id"])),
        ({"object": obj}, {}), ({"object": obj}, {"breakConfig": "junk"}), ({"object": obj}, brk("user.name")),
        ({}, brk(["a"])), ({"object": None}, brk(["a"])), ({"object": [1, [2, 3]]}, brk(["0", "1.1", "2"])),
        ({"object": '{"a": {"b": 2}, "c": [1, 2]}'}, brk(["a.b", "c.1", "value"])),
        ({"object": "```json\n{\"a\": 1}\n```"}, brk(["a"])), ({"object": "Here: {'a': True, 'b': None}"}, brk(["a", "b"])),
        ({"object": "42"}, brk(["value", "a"])), ({"object": "plain text"}, brk(["value", "a"])),
        ({"object": "   "}, brk(["value"])), ({"object": "null"}, brk(["value"])), ({"object": 5}, brk(["value"])),
        ({"object": {"result": 1, "x": 2}}, brk(["result", "x"])), ({"object": {"a": 1}}, brk(["a", "a"])),
    ]:
        out.append(vector("break_object", inp, cfg))

    for inp, cfg in [
        ({"schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}},
         {"literalValue": {"properties": {"b": {"type": "number"}, "a": {"type": "x"}}, "required": ["b", "a", "c"]}}),
        ({"schema": {"properties": {"a": {}}}}, {"literalValue": {"type": "array", "properties": {"b": {}}}}),
        ({"schema": {"title": "T", "type": "", "required": "ab"}}, {"literalValue": {"properties": {"a": {}, "": {}}, "required": ["a", " ", 1]}}),
        ({"schema": {"type": "object"}}, {}), ({}, {"literalValue": {"type": "object", "properties": {"x": {}}}}),
        ({}, {}), ({"schema": "junk"}, {"literalValue": [1]}), ({"schema": {"a": 1}}, {"literalValue": {}}),
        ({"schema": {"required": 5}}, {"literalValue": {"x": 1}}), ({"schema": {"required": {"k": 1}}}, {"literalValue": {"x": 1}}),
        ({"schema": {"$defs": {"A": 1}, "required": ["a", "a"]}}, {"literalValue": {"$defs": {"A": 2, "B": 3}, "definitions": {"C": 4}}}),
        ({"schema": {"properties": {"a": 1}, "required": ["a"]}}, {"literalValue": {"properties": "junk", "required": None, "$defs": {}}}),
        ({"schema": {"properties": [1], "required": []}}, {"literalValue": {"properties": {"p": 1}, "required": ["p"]}}),
    ]:
        out.append(vector("edit_json_schema", inp, cfg))

    for inp in [
        {"select": 0, "in0": "a", "in1": "b"}, {"select": 1, "in0": "a", "in1": "b"}, {"select": 2, "in0": "a", "fallback": "f"},
        {"select": 2, "in0": "a"}, {"in0": "x"}, {"select": None, "in0": "x"}, {"select": True, "in1": "t"},
        {"select": 1.9, "in1": "one"}, {"select": -0.5, "in0": "zero"}, {"select": " 1.7 ", "in1": "s"}, {"select": "x", "in0": "bad"},
        {"select": "", "in0": "empty"}, {"select": [1], "in0": "list"}, {"select": {"a": 1}, "in0": "dict"}, {"select": -1, "in-1": "neg"},
        {"select": 1, "in1": None, "fallback": "f"}, {"select": "1e0", "in1": "sci"}, {"select": "inf", "in0": "inf"},
        {"select": 1e300, "fallback": "big"}, {"select": "nan", "in0": "nan"},
    ]:
        out.append(vector("path_mux", inp))
    return out


def array_cases():
    out = []
    for inp, cfg in [
        ({"a": 1, "b": 2}, {}), ({"a": 1}, {}), ({"b": [1, 2]}, {}), ({"a": None, "b": 0}, {}), ({}, {}), ({"c": 1}, {}),
        ({"a": 1, "b": 2, "c": 3}, pins("c", "a", "b")), ({"a": 1, "c": 3}, pins("a", "b", "c")),
        ({"a": {"x": 1}, "b": [None]}, {}), ({"a": 1, "b": 2}, {"inputs": [{"id": "b"}, "junk", {"id": ""}, {"id": 3}, {"id": "a"}]}),
        ({"a": 1, "b": 2}, {"inputs": []}), ({"a": 1, "b": 2}, {"inputs": "junk"}),
    ]:
        out.append(vector("make_array", inp, cfg))
        out.append(vector("array_concat", inp, cfg))
    for inp, cfg in [
        ({"a": [1, 2], "b": [3, [4]]}, {}), ({"a": [], "b": "x"}, {}), ({"a": {"k": 1}, "b": None}, {}),
        ({"a": [1], "b": [2], "c": [3]}, pins("c", "b")),
    ]:
        out.append(vector("array_concat", inp, cfg))

    people = [{"name": "Ada", "age": 36}, {"name": "Bob", "age": 1.0}, {"age": True}, "str", 1, None]
    for inp in [
        {"items": people, "key": "name"}, {"items": people, "key": "age"}, {"items": people}, {"items": [], "key": "x"},
        {"items": "abc", "key": "x"}, {"items": {"k1": 1, "k2": 2}, "key": "x"}, {"key": "x"}, {"items": None},
        {"items": 5}, {"items": [{"None": 1}], "key": None}, {"items": [{"1": "one"}], "key": 1},
    ]:
        out.append(vector("array_map", inp))
    for inp in [
        {"items": people, "key": "age", "value": 1}, {"items": people, "key": "age", "value": 36},
        {"items": people, "key": "name", "value": "Ada"}, {"items": people, "key": "zzz"}, {"items": people, "value": "str"},
        {"items": [1, 1.0, True, "1", [1], {"": 1}], "value": 1}, {"items": [[1, 2], [1.0, 2.0], [2, 1]], "value": [1, 2]},
        {"items": [{"k": {"a": 1}}, {"k": {"a": 1.0}}, {"k": {"a": 2}}], "key": "k", "value": {"a": True}},
        {"items": "aba", "value": "a"}, {"items": {"a": 1, "b": 2}, "value": "b"}, {"items": None}, {},
        {"items": [None, 0, False, ""], "value": None}, {"items": [0, False, 0.0, -0.0], "value": False},
    ]:
        out.append(vector("array_filter", inp))

    for v in [[1, 2, 3], [], "abc", {"a": 1}, None, 5, [None]]:
        out.append(vector("array_length", {"array": v}))
        out.append(vector("has_tools", {"array": v}))
    out.append(vector("array_length", {}))
    out.append(vector("has_tools", {}))

    for inp in [
        {"array": [1, 2], "item": 3}, {"array": [], "item": None}, {"array": None, "item": "x"}, {"item": "x"},
        {"array": "abc", "item": 1}, {"array": {"a": 1}, "item": 2}, {"array": [1]}, {}, {"array": 0, "item": 1},
        {"array": [[1]], "item": [2]},
    ]:
        out.append(vector("array_append", inp))

    mixed = [1, 1.0, True, "1", None, None, [1, 2], [1, 2], {"b": 1, "a": 2}, {"a": 2, "b": 1}, 1, "é", "é", 0.5, 0.50, False, 0]
    recs = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}, {"v": "d"}, {"v": "d"}, {"id": None, "v": "e"},
            {"id": [1], "v": "f"}, {"id": [1], "v": "g"}, 1, {"id": "1", "v": "h"}, {"id": 1.0, "v": "i"}]
    for inp in [
        {"array": mixed}, {"array": recs, "key": "id"}, {"array": recs, "key": " id "}, {"array": recs, "key": ""},
        {"array": recs, "key": None}, {"array": recs, "key": 0}, {"array": [[1, 2], [1, 3], [2, 2]], "key": "[0]"},
        {"array": [{"a": {"b": 1}}, {"a": {"b": 1}, "x": 2}, {"a": {"b": 2}}], "key": "a.b"}, {"array": "abc"},
        {"array": None}, {}, {"array": {"a": 1}}, {"array": []}, {"array": [1e16, 1e16, 1e-7, 10000000000000000]},
        {"array": [{"x": [1.0, "é", None]}, {"x": [1.0, "é", None]}, {"x": [1, "é", None]}]},
        {"array": ["NoneType:None", None, "int:1", 1, "[1]", [1]]},
    ]:
        out.append(vector("array_dedup", inp))

    for inp in [
        {"array": ["a", "b", "c"], "index": 1}, {"array": ["a", "b", "c"]}, {"array": ["a", "b", "c"], "index": -1},
        {"array": ["a", "b", "c"], "index": -4, "default": "d"}, {"array": ["a", "b", "c"], "index": 3, "default": "d"},
        {"array": ["a", "b", "c"], "index": 1.9}, {"array": ["a", "b", "c"], "index": -1.5}, {"array": ["a", "b", "c"], "index": "2"},
        {"array": ["a", "b", "c"], "index": " 1.5 "}, {"array": ["a", "b", "c"], "index": "x", "default": 0},
        {"array": ["a", "b", "c"], "index": ""}, {"array": ["a", "b", "c"], "index": True}, {"array": ["a", "b", "c"], "index": None},
        {"array": ["a", "b", "c"], "index": [2]}, {"array": "abc", "index": 0, "default": "dflt"}, {"array": None, "index": 0},
        {"array": {"0": "x"}, "index": 0}, {}, {"array": [None], "index": 0, "default": "d"}, {"array": ["a"], "index": 1e300},
        {"array": ["a"], "index": "inf"}, {"array": ["a"], "index": "nan"}, {"array": ["a", "b"], "index": "-1"},
        {"array": ["a", "b"], "index": "1_0"}, {"array": [[1], {"k": 2}], "index": 1},
    ]:
        out.append(vector("get_element", inp))

    for inp in [{"array": []}, {"array": [], "default": "d"}, {"array": None, "default": 5}, {"array": "abc"}, {}]:
        out.append(vector("get_random_element", inp))
    return out


def random_element_cases():
    handler = g.reference_handler("get_random_element", {})
    out = []
    for arr in [["only"], [1, 2, 3], [None, {"a": 1}, [2]], ["x", "x", "y"]]:
        seen = []
        for _ in range(300):
            got = handler({"array": arr})
            assert got["found"] is True and got["result"] in arr, got
            seen.append(json.dumps(got["result"]))
        assert len(set(seen)) == len({json.dumps(a) for a in arr}), "reference never picks some element"
        out.append({"node_type": "get_random_element", "inputs": {"array": arr}, "config": {}, "expect_one_of": arr})
    return out


def json_cases():
    out = []
    texts = [
        '{"a": 1, "b": [1, 2.5, "x"], "c": null}', "[1, 2, 3]", "[]", "{}", '"hello"', "42", "-0", "1.0", "1e2", "-1.5e-3",
        "true", "false", "null", "None", "True", "  {\"a\": 1}  ", '{"a": 1, "a": 2, "b": 3}', '{"b": 1, "a": {"c": [true]}}',
        "```json\n{\"x\": 1}\n```", "```\n[1, 2]\n```", "```json {\"x\": 1}```", "```", "``` ```", "```json\n\n```",
        'The answer is {"ok": true} and more', 'prefix [1, 2] then {"a": 1}', 'bad { then {"a": 1}', "text [unclosed",
        "{'a': 1, 'b': 'two', 'c': None, 'd': True, 'e': (1, 2), 'f': [1.5, -2]}", "{'nested': {'x': [None, False]}}",
        "[1, 2,]", "{'a': 1,}", "(1, 2)", "()", "(1,)", "'single'", '"dq"', "'a' 'b'", "-5", "+5", "0x1F", "0o17", "0b101",
        "1_000", "1_000.5", ".5", "5.", "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "[NaN]", '{"x": Infinity}',
        "123456789012345678901234567890", "[18446744073709551615, -9223372036854775808]", "[18446744073709551616]",
        '"\\u00e9\\n\\t\\"\\\\\\/"', '"\\ud83d\\ude00"', '"\\ud800"', '"tab\there"', "{1: 'int key', 2.5: 'float key', True: 'bool', None: 'none'}",
        "{1: 'a', True: 'b', 1.0: 'c'}", "{'1': 'a', 1: 'b'}", "{(1, 2): 'tuple key'}", "{(1,): 'one'}",
        "'it\\'s'", "'\\x41\\101\\u00e9\\U0001F600'", "'\\q\\z'", "r'\\n raw'", "u'unicode'", "'''triple\nquoted'''",
        '"""tri"ple"""', "b'bytes'", "--1", "- 1", "-(1)", "(1)", "[(1)]", "[1 # comment\n, 2]",
        "{'a': [1, 2], 'b': {'c': 'd'}}   trailing", "not json at all", "{broken: json}", "[1, 2] [3]",
        '{"a": 1} {"b": 2}', "  \n  ", "é", '{"é": "ü", "emoji": "😀"}', "\"\\u0000\"", '[1, "a\u00a0b"]',
        '{"a":1,"b":2', "{'a': 1, **x}", "[1, x]", "1 + 2", "[-1.5, +2, -0.0]", "[1e5, 1E-5, 1.5e+300]",
        "0", "00", "01", "[00]", "1.", "[.5]", '{"a": 01}', "'a\\\nb'", "[True, False, None]",
        "[\n  1,\n  2\n]\n", "{\"k\": \"v\"}\n```", "\ufeff{\"bom\": 1}", "[1, 2, 3]]", "[[[[[]]]]]",
    ]
    for t in texts:
        out.append(vector("parse_json", {"text": t}))
    for inp in [
        {"text": {"already": "dict"}}, {"text": [1, 2]}, {"text": None}, {}, {"text": ""}, {"text": 5}, {"text": 1.5},
        {"text": True}, {"text": 1e16}, {"text": "42", "wrap_scalar": False}, {"text": '"s"', "wrap_scalar": 0},
        {"text": "[1]", "wrap_scalar": False}, {"text": "7", "wrap_scalar": "no"}, {"text": "7", "wrap_scalar": None},
        {"text": {"result": 1, "k": 2}}, {"text": '{"result": 3}'}, {"text": "{}", "wrap_scalar": False},
    ]:
        out.append(vector("parse_json", inp))

    values = [
        {"b": 1, "a": [1, 2.5, None, True, "é"], "c": {}, "d": [], "e": {"x": {"y": [1, {"z": 2}]}}},
        [1, [2, [3, []]], {}], "plain text", '{"from": "string", "n": [1, 2]}', "{'py': True, 'n': None}", "null", "42",
        '"quoted"', "  ", "", None, 5, 1.0, True, -0.0, 1e16, [], {}, "text with {\"a\": 1} inside", "```json\n[1]\n```",
        {"ctrl": "\u0001\n\t\"\\/"}, '{"a": NaN}', "[1, 2] extra", "(1, 2)", "{1: 2}", "b'x\\'y\\n'",
    ]
    for v in values:
        out.append(vector("stringify_json", {"value": v}))
    base = {"b": 1, "a": [1, {"d": None, "c": 2}], "e": {}}
    for extra in [
        {"mode": "none"}, {"mode": "minified"}, {"mode": "beautify"}, {"mode": " MINIFIED "}, {"mode": "bogus"},
        {"mode": 5}, {"mode": ""}, {"indent": 4}, {"indent": 0}, {"indent": -1}, {"indent": "3"}, {"indent": "x"},
        {"indent": 2.9}, {"indent": True}, {"indent": None}, {"indent": [1]}, {"indent": "2.5"}, {"sort_keys": True},
        {"sort_keys": 1}, {"sort_keys": True, "mode": "minified"}, {"sort_keys": True, "mode": "none"},
        {"mode": "none", "indent": 8}, {"mode": "beautify", "indent": 0}, {"mode": "beautify", "indent": 1},
        {"mode": "minified", "indent": 4}, {"indent": 1e300}, {"indent": "inf"},
    ]:
        out.append(vector("stringify_json", {"value": base, **extra}))
    out.append(vector("stringify_json", {}))
    out.append(vector("stringify_json", {"value": {"é": 1, "a": 2, "B": 3, "_": 4, "10": 5, "9": 6}, "sort_keys": True}))
    return out


def agent_cases():
    out = []
    for inp in [
        {"task": "Do it", "messages": [{"role": "user", "content": "hi"}]}, {}, {"task": None, "messages": None},
        {"task": 5, "messages": "one"}, {"task": ["a"], "messages": {"role": "user"}},
        {"context_extra": {"memory": {"k": 1}, "task": "old", "z": 1}, "task": "new"}, {"context_extra": "junk"},
        {"context_extra": {"messages": "keep?"}, "messages": []}, {"task": True, "messages": 0},
    ]:
        out.append(vector("make_context", inp))

    for inp in [
        {}, {"schema": "my.schema", "version": 3, "output_mode": " json ", "provider": "openai", "model": " gpt "},
        {"schema": "  ", "version": "2.7", "provider": 5, "model": True}, {"version": True}, {"version": 2.9},
        {"version": "x"}, {"version": "  "}, {"version": None}, {"version": [1]}, {"version": "inf"}, {"version": 1e300},
        {"provider": "  ", "model": None}, {"provider": [], "model": {}}, {"provider": ["x"], "model": {"a": 1}},
        {"sub_run_id": " r1 ", "iterations": 3.7, "tool_calls": "4", "tool_results": True},
        {"iterations": "x", "tool_calls": "1e2", "tool_results": -2.5}, {"iterations": "nan", "tool_calls": float("inf") if False else "inf"},
        {"finish_reason": " stop ", "gen_time": 1.5, "ttft_ms": 120}, {"gen_time": True, "ttft_ms": None},
        {"gen_time": "fast", "ttft_ms": [1]}, {"usage": {"in": 1}, "trace": {"span": "s"}}, {"usage": "junk", "trace": " t1 "},
        {"trace": " ", "trace_id": "tid"}, {"trace": {"trace_id": "old", "x": 1}, "trace_id": " new "}, {"trace_id": 5},
        {"warnings": ["a", " ", None, 1, "", [1]]}, {"warnings": " warn "}, {"warnings": "  "}, {"warnings": 5},
        {"debug": {"d": 1}}, {"debug": 0}, {"debug": None}, {"debug": "txt"},
        {"extra": {"custom": 1, "schema": "overridden", "version": 9, "trace": {"a": 1}}, "trace_id": "t"},
        {"extra": ["junk"]}, {"iterations": 1e300},
    ]:
        out.append(vector("make_meta", inp))

    for inp in [
        {}, {"sub_run_id": " s ", "workflow_id": " w ", "task": "t", "messages": [1], "context_extra": {"a": 1},
             "node_traces": {"n": []}, "steps": [1], "tool_calls": [{"name": "x"}], "tool_results": [{"ok": 1}]},
        {"sub_run_id": "  ", "workflow_id": 5, "task": 3.0, "messages": "m", "context_extra": "junk", "node_traces": [1],
         "steps": "s", "tool_calls": {"name": "x"}, "tool_results": 0},
        {"task": None, "messages": None, "steps": None, "tool_calls": None, "tool_results": None, "node_traces": None},
        {"task": False, "steps": False},
    ]:
        out.append(vector("make_scratchpad", inp))

    for cfg in [
        {"literalValue": ["read_file", " write_file ", "read_file", "", 5, None, "  ", "list"]}, {}, {"literalValue": "read_file"},
        {"literalValue": None}, {"literalValue": []},
    ]:
        out.append(vector("tools_allowlist", {}, cfg))

    tp = lambda ids, **c: {"inputs": [{"id": "exec-in", "type": "execution"}] + [{"id": i} for i in ids], "toolParametersConfig": c}
    for inp, cfg in [
        ({"path": "a.txt", "limit": 5}, tp(["path", "limit"], tool="read_file")),
        ({"path": "a.txt"}, tp(["path", "limit"], tool=" read_file ")), ({}, tp([], name="x")),
        ({"path": None}, tp(["path"], tool="", name="fallback")), ({"q": 1}, tp([" q ", "", "q"], tool=5)),
        ({"tool_call": "x"}, tp(["tool_call"], tool="t")), ({"p": 1}, {"inputs": [{"id": "p"}]}),
        ({"p": 1}, {"inputs": [{"id": "p"}], "toolParametersConfig": "junk"}),
    ]:
        out.append(vector("tool_parameters", inp, cfg))
    return out


def seeded_cases():
    """Pseudo-random (seeded) values: JSON and Python-literal renderings with noise around
    them, paths into nested values, dedup of near-duplicates."""
    rng = random.Random(20261205)
    scalars = [None, True, False, 0, 1, -7, 2**40, 0.5, -0.0, 1e16, 1e-7, 3.14159, "", "a", "é", "quote'", 'dq"',
               "back\\slash", "line\nbreak", "tab\t", "😀", "{", "[", "}", "]", "None", "null"]

    def value(depth=0):
        r = rng.random()
        if depth > 3 or r < 0.45:
            return rng.choice(scalars)
        if r < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(["a", "b", "k", "é", "x y", "0", "1", "_p", "result", "value"]): value(depth + 1)
                for _ in range(rng.randint(0, 4))}

    def render(v):
        style = rng.random()
        if style < 0.4:
            text = json.dumps(v, ensure_ascii=rng.random() < 0.3, indent=rng.choice([None, 2]))
        elif style < 0.7:
            text = repr(v)
        else:
            text = json.dumps(v, separators=(",", ":"))
        if rng.random() < 0.25:
            text = f"```{rng.choice(['', 'json', 'python'])}\n{text}\n```"
        if rng.random() < 0.3:
            text = rng.choice(["Sure! ", "Result: ", "{bad ", "[x] ", "noise\n"]) + text
        if rng.random() < 0.3:
            text += rng.choice([" trailing", "\n", " }", "]", " {\"z\": 1}"])
        return text

    out = []
    for _ in range(120):
        out.append(vector("parse_json", {"text": render(value())}))
    for _ in range(60):
        inp = {"value": render(value()) if rng.random() < 0.6 else value()}
        if rng.random() < 0.5:
            inp["mode"] = rng.choice(["none", "beautify", "minified", "other"])
        if rng.random() < 0.3:
            inp["indent"] = rng.choice([0, 1, 3, -2, "4"])
        if rng.random() < 0.3:
            inp["sort_keys"] = True
        out.append(vector("stringify_json", inp))
    for _ in range(60):
        obj = value()
        path = "".join(rng.choice(["a", "b", "k", "0", "1", ".", "[0]", "[1]", " ", "result"]) for _ in range(rng.randint(0, 5)))
        out.append(vector("get", {"object": obj, "key": path, "default": "d"}))
        out.append(vector("set", {"object": obj if isinstance(obj, dict) else {}, "key": path, "value": 1}))
    for _ in range(30):
        items = [rng.choice([value(2), {"id": rng.choice([1, 1.0, True, "1", None]), "v": rng.random() < 0.5}]) for _ in range(6)]
        out.append(vector("array_dedup", {"array": items, "key": rng.choice([None, "id", "v", "[0]", "a"])}))
    return out


def tool_result_cases():
    out = []
    long_text = "word " * 120
    results = [
        {"call_id": "1", "name": "read_file", "success": True, "output": "line one\nline two\r\n\n  three", "arguments": {"file_path": "a.txt"}},
        {"name": "write_file", "success": True, "output": {"rendered": "  wrote 3 bytes  "}, "arguments": {"file_path": "b.txt", "content": None}},
        {"name": "execute_command", "success": False, "error": " boom ", "output": {"command": "ls -la", "code": 2}},
        {"name": "execute_command", "success": False, "error": "", "output": None},
        {"name": "web_search", "success": None, "output": {"query": "rust", "results": [1, {"b": 2, "a": 1}]}},
        {"name": "custom_tool", "success": True, "output": {"zeta": 1.5, "alpha": [1, 2]}, "arguments": {" key ": "v", "": 1}},
        {"name": "custom_tool", "success": True, "output": 42, "arguments": {"n": None}},
        {"tool": "fallback_name", "success": "yes", "output": [1, "a", None]},
        {"name": "", "tool": None, "output": True},
        {"name": 5, "success": True, "output": long_text},
        {"name": "list_files", "success": True, "output": {"rendered": "   "}, "arguments": {"pattern": "*.py", "directory_path": None}},
        {"name": "skim_files", "success": True, "output": "", "arguments": {"paths": ["a", "b"]}},
        {"name": "fetch_url", "success": True, "output": {"url": "http://x\ny", "body": "é" * 500}},
        {"name": "analyze_code", "success": False, "error": 404, "output": "ignored"},
        {"name": "edit_file", "success": True, "arguments": {"file_path": True, "pattern": "x"}, "output": {}},
        "not a dict", None, 7,
    ]
    out.append(vector("format_tool_results", {"tool_results": results}))
    for r in results:
        out.append(vector("format_tool_results", {"tool_results": [r]}))
    for inp in [
        {}, {"tool_results": None, "results": results[:2]}, {"results": results[2]}, {"tool_results": results[3], "results": results},
        {"tool_results": []}, {"tool_results": "text"}, {"tool_results": [{"name": "t", "output": {"a": 1e16, "b": -0.0}}]},
        {"tool_results": [{"name": "t", "arguments": {"k": {"z": [1, "é"]}}, "output": None}]},
        {"tool_results": [{"name": "t", "arguments": {"k": "x" * 200}}]},
    ]:
        out.append(vector("format_tool_results", inp))
    return out


def trace_report_cases():
    """agent_trace_report: every branch of the renderer (llm_call, tool_calls with results,
    offloaded calls, failures, raw results, odd shapes), plus seeded scratchpads."""
    out = []
    call = lambda cid, name="read_file", **kw: {"name": name, "call_id": cid, "arguments": {"path": f"{cid}.txt"}, **kw}
    steps = [
        {"ts": "2026-01-01T00:00:05Z", "status": "completed", "effect": {"type": "llm_call"}, "duration_ms": 0.0625,
         "result": {"content": "  Let me look.\n", "model": "m1", "finish_reason": "tool_calls",
                    "tool_calls": [{"name": "read_file", "call_id": "c1"}, {"name": "x", "call_id": 7}, {"name": ""}, "junk"]}},
        {"ts": "2026-01-01T00:00:04Z", "status": "completed", "effect": {"type": "llm_call"}, "duration_ms": True,
         "result": {"content": "   ", "model": "", "tool_calls": []}},
        {"ts": "2026-01-01T00:00:03Z", "status": "completed", "effect": {"type": "llm_call"}, "duration_ms": -1},
        {"ts": "2026-01-01T00:00:06Z", "status": "completed", "duration_ms": 1234567.89,
         "effect": {"type": "tool_calls", "payload": {"tool_calls": [call("c1"), call("c2"), call("c3", id="alt"), {"$artifact": "a"},
                                                                     {"name": None, "id": "i9", "arguments": None}, 5]}},
         "result": {"results": [{"call_id": "c1", "success": True, "output": {"text": "hi", "n": [1, 2.5, None]}},
                                {"call_id": "c2", "success": False, "error": "denied", "output": "no access"},
                                {"call_id": "c3", "success": "yes", "error": {"code": 1}, "output": [True, {}]},
                                {"call_id": "c3", "output": None}, {"call_id": ""}, "junk"]}},
        {"ts": "2026-01-01T00:00:07Z", "status": "completed",
         "effect": {"type": "tool_calls", "payload": {"tool_calls": {"$artifact": "art-1"}}}},
        {"ts": "2026-01-01T00:00:08Z", "status": "completed", "effect": {"type": "tool_calls", "payload": {"tool_calls": None}}},
        {"ts": "2026-01-01T00:00:09Z", "status": "completed", "effect": {"type": "tool_calls", "payload": {"tool_calls": call("c9")}},
         "result": "not a dict"},
        {"ts": "2026-01-01T00:00:01Z", "status": "failed", "effect": {"type": "wait"}, "error": {"why": ["a", 1]}},
        {"ts": "2026-01-01T00:00:02Z", "status": "failed", "effect": "junk"},
        {"status": "completed", "effect": {"type": "other"}, "result": {"z": 1, "a": {"b": "é"}, "e": [], "o": {}}},
        {"ts": 5, "status": None, "effect": {"type": 3}, "result": [1]},
        "not a step",
    ]
    full = {"sub_run_id": "sub-1", "workflow_id": "wf", "node_traces": {"n1": {"steps": steps[:5]}, "n2": {"steps": steps[5:]},
                                                                        "n3": "junk", "n4": {"steps": "junk"}}}
    for sp in [
        full, None, "text", [], {}, {"node_traces": {}}, {"node_traces": {"n": {"steps": []}}, "sub_run_id": " ", "workflow_id": 5},
        {"node_traces": "junk"}, {"node_id": "solo", "steps": steps[:2]}, {"node_id": 12, "steps": steps[7:9], "node_traces": None},
        {"node_traces": {"only": {"steps": [steps[3]]}}}, {"node_traces": {"é": {"steps": [{"ts": "b"}, {"ts": "a", "status": "failed"}]}}},
    ]:
        out.append(vector("agent_trace_report", {"scratchpad": sp}))
    out.append(vector("agent_trace_report", {}))
    rng = random.Random(20261206)
    for _ in range(25):
        traces = {}
        for n in range(rng.randint(0, 3)):
            entries = []
            for _ in range(rng.randint(0, 3)):
                kind = rng.choice(["llm_call", "tool_calls", "other", "failed"])
                entry = {"ts": f"2026-01-01T00:00:{rng.randint(0, 9):02d}Z", "status": "failed" if kind == "failed" else "completed",
                         "effect": {"type": kind, "payload": {"tool_calls": [call(f"c{i}") for i in range(rng.randint(0, 2))]}}}
                if rng.random() < 0.5:
                    entry["duration_ms"] = rng.choice([0, 1, 2.5, 0.0005, 0.0015, 1e-9, 10**12, 3.14159])
                if kind == "failed":
                    entry["error"] = rng.choice(["boom", None, 3, ["x"]])
                else:
                    entry["result"] = {"content": rng.choice(["hi", "", None]), "model": "m",
                                       "results": [{"call_id": "c0", "success": rng.random() < 0.5, "output": rng.choice(["o", 1, None])}]}
                entries.append(entry)
            traces[f"node{n}"] = {"steps": entries}
        out.append(vector("agent_trace_report", {"scratchpad": {"node_traces": traces, "sub_run_id": rng.choice(["", "s"])}}))
    return out


def main() -> None:
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data-vectors.json")
    target = sys.argv[1] if len(sys.argv) > 1 else default
    random.seed(20261204)
    vectors = object_cases() + array_cases() + random_element_cases() + json_cases() + agent_cases() + tool_result_cases() + seeded_cases()
    vectors += trace_report_cases()
    with open(target, "w", encoding="utf-8") as fh:
        json.dump(vectors, fh, ensure_ascii=False, indent=1, allow_nan=False)
        fh.write("\n")
    errors = sum(1 for v in vectors if v.get("expect_error"))
    print(f"wrote {len(vectors)} vectors ({errors} expect_error) to {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
