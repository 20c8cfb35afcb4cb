#!/usr/bin/env python3
"""Generate std-nodes test vectors from the reference implementation.

How to run (needs only abstractruntime 0.13.0):

    python3 -m venv venv && venv/bin/pip install abstractruntime==0.13.0
    venv/bin/python plugins/std-nodes/tools/gen_vectors.py [OUT]

OUT defaults to ../vectors.json next to this script (plugins/std-nodes/vectors.json).

Each case is evaluated exactly as the reference's visual executor evaluates a pure node:
the builtin from `visual/builtins.py` is called through the executor's own `_wrap_builtin`
(which adds `_pin_order` / `_literalValue` from the node's `data`), except `concat`, which the
executor routes to its own `_create_concat_handler` instead of the `string_concat` builtin.
Both helpers are nested inside `visual_to_flow`; they are rebuilt from its code object.

The builtin's return value becomes the output object the way downstream pins read it: a
non-dict value is pin `result`; a dict is read key by key, with `result` falling back to the
whole dict. Where the reference raises, the vector says `"expect_error": true`. Where it
returns something JSON cannot carry (inf/nan, a complex number), the vector also says
`"expect_error": true` with a `note`: the plugin fails the node rather than invent a value.
Random nodes get `"expect_range": [lo, hi]` (checked here by sampling the reference).
"""

from __future__ import annotations

import json
import math
import os
import sys
import types

from abstractruntime.visualflow_compiler.visual import executor as _executor
from abstractruntime.visualflow_compiler.visual.builtins import get_builtin_handler


def _nested(outer: types.FunctionType, name: str, cells: dict) -> types.FunctionType:
    """Rebuild a function nested in `outer`, giving its free variables from `cells`."""

    def find(code):
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                if const.co_name == name:
                    return const
                found = find(const)
                if found is not None:
                    return found
        return None

    code = find(outer.__code__)
    if code is None:
        raise SystemExit(f"reference changed: {name} not found in {outer.__name__}")
    closure = tuple(types.CellType(cells[v]) for v in code.co_freevars)
    return types.FunctionType(code, outer.__globals__, name, None, closure)


_decode_separator = _nested(_executor.visual_to_flow, "_decode_separator", {})
_create_concat_handler = _nested(
    _executor.visual_to_flow, "_create_concat_handler", {"_decode_separator": _decode_separator}
)
_wrap_builtin = _nested(_executor.visual_to_flow, "_wrap_builtin", {})


def reference_handler(node_type: str, config: dict):
    if node_type == "concat":
        return _create_concat_handler(config)
    builtin = get_builtin_handler(node_type)
    if builtin is None:
        raise SystemExit(f"reference has no builtin {node_type}")
    return _wrap_builtin(builtin, config)


def _representable(value) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_representable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _representable(v) for k, v in value.items())
    return False


def output_object(returned):
    if isinstance(returned, dict):
        out = dict(returned)
        out.setdefault("result", returned)
        return out
    return {"result": returned}


def vector(node_type: str, inputs: dict, config: dict | None = None) -> dict:
    config = config or {}
    handler = reference_handler(node_type, config)
    case = {"node_type": node_type, "inputs": inputs, "config": config}
    try:
        returned = handler(json.loads(json.dumps(inputs)) if inputs else {})
    except Exception as exc:  # the reference raises: the plugin must fail too
        case["expect_error"] = True
        case["reference_error"] = f"{type(exc).__name__}: {exc}"
        return case
    if not _representable(returned):
        case["expect_error"] = True
        case["note"] = f"reference returns {returned!r}, which JSON cannot carry"
        return case
    case["expect"] = output_object(returned)
    return case


def random_vector(node_type: str, inputs: dict, lo, hi) -> dict:
    handler = reference_handler(node_type, {})
    want_int = node_type == "random_int"
    for _ in range(300):
        value = handler(dict(inputs))
        assert lo <= value <= hi, (node_type, inputs, value)
        assert isinstance(value, int) == want_int and not isinstance(value, bool), value
    return {
        "node_type": node_type,
        "inputs": inputs,
        "config": {},
        "expect_range": [lo, hi],
        "expect_kind": "int" if want_int else "float",
    }


# --------------------------------------------------------------------------------------------
# Cases

def math_cases():
    out = []
    binary_inputs = [
        {"a": 40, "b": 2}, {"a": 7, "b": 3}, {"a": -7, "b": 2}, {"a": 7, "b": -2},
        {"a": 2.5, "b": 0.5}, {"a": 0.1, "b": 0.2}, {"a": "7", "b": "3"}, {"a": " 1.5 ", "b": "1e3"},
        {"a": True, "b": False}, {"a": 5}, {"b": 5}, {}, {"a": None, "b": 1}, {"a": "abc", "b": 1},
        {"a": [1], "b": 1}, {"a": {"x": 1}, "b": 2}, {"a": 1, "b": 0}, {"a": 0, "b": 0},
        {"a": -0.0, "b": 5}, {"a": "1_000", "b": 1}, {"a": "inf", "b": 1}, {"a": 1e308, "b": 1e308},
        {"a": 9007199254740993, "b": 0}, {"a": "", "b": 1}, {"a": 5.5, "b": 2},
    ]
    for node in ("add", "subtract", "multiply", "divide", "modulo"):
        for inp in binary_inputs:
            out.append(vector(node, inp))
    for node in ("divide", "modulo"):
        out += [vector(node, {"a": 1, "b": "0"}), vector(node, {"a": 1, "b": 0.0}),
                vector(node, {"a": -1, "b": 3}), vector(node, {"a": 1e308, "b": 1e-10}),
                vector(node, {"a": 1, "b": None})]
    for inp in [{"base": 2, "exp": 10}, {"base": 2}, {"exp": 3}, {}, {"base": 9, "exp": 0.5},
                {"base": -8, "exp": 3}, {"base": -8, "exp": 1 / 3}, {"base": 0, "exp": -1},
                {"base": 0, "exp": 0}, {"base": 10, "exp": 400}, {"base": 10, "exp": -400},
                {"base": "2", "exp": "3"}, {"base": 2, "exp": -2}, {"base": -2, "exp": 2.0},
                {"base": 1, "exp": "nan"}, {"base": None, "exp": 2}, {"base": -0.0, "exp": 3}]:
        out.append(vector("power", inp))
    for inp in [{"value": -2.5}, {"value": 3}, {"value": "-4"}, {}, {"value": None},
                {"value": True}, {"value": -0.0}, {"value": "x"}]:
        out.append(vector("abs", inp))
    round_inputs = [
        {"value": 13.333333, "decimals": 2}, {"value": 2.5}, {"value": 3.5}, {"value": -0.5},
        {"value": -2.5, "decimals": 0}, {"value": 2.675, "decimals": 2}, {"value": 0.125, "decimals": 2},
        {"value": 1234.5, "decimals": -1}, {"value": 1250, "decimals": -2}, {"value": 1350, "decimals": -2},
        {"value": 1250.0001, "decimals": -2}, {"value": -1250, "decimals": -2}, {"value": 49, "decimals": -2},
        {"value": 50, "decimals": -2}, {"value": 150, "decimals": -2}, {"value": 999, "decimals": -1},
        {"value": 12, "decimals": -5}, {"value": 1.7e308, "decimals": -308}, {"value": 5e-324, "decimals": 400},
        {"value": 1.23456789, "decimals": "3"}, {"value": "7.77", "decimals": True},
        {"value": 1.5, "decimals": "1.5"}, {"value": 1.5, "decimals": None}, {"value": 2.7, "decimals": 1.9},
        {"value": 1e22, "decimals": 2}, {"value": 0.1, "decimals": 20}, {}, {"value": "1e-5", "decimals": 4},
        {"value": -4, "decimals": -1},
    ]
    for inp in round_inputs:
        out.append(vector("round", inp))
    out += [
        random_vector("random_int", {}, 0, 100),
        random_vector("random_int", {"min": 5, "max": 5}, 5, 5),
        random_vector("random_int", {"min": 10, "max": 1}, 1, 10),
        random_vector("random_int", {"min": "2.9", "max": "x"}, 2, 100),
        random_vector("random_int", {"min": None, "max": -3}, -3, 0),
        random_vector("random_float", {}, 0.0, 1.0),
        random_vector("random_float", {"min": 5, "max": 5}, 5.0, 5.0),
        random_vector("random_float", {"min": 3, "max": -1}, -1.0, 3.0),
        random_vector("random_float", {"min": "bad", "max": 0.5}, 0.0, 0.5),
    ]
    return out


def string_cases():
    out = []
    ab = {"inputs": [{"id": "a", "type": "string"}, {"id": "b", "type": "string"}]}
    for inp, cfg in [
        ({"a": "Hello", "b": "World"}, {}), ({"a": "Hello", "b": "World"}, ab),
        ({"a": "x", "b": "y"}, {"concatConfig": {"separator": ""}}),
        ({"a": "x", "b": "y"}, {"concatConfig": {"separator": "\\n"}}),
        ({"a": "x", "b": "y"}, {"concatConfig": {"separator": 5}}),
        ({"a": 1, "b": 2.0}, {}), ({"a": None, "b": True}, {}), ({"a": [1, "x"], "b": {"k": None}}, {}),
        ({"b": "only b"}, ab), ({}, {}), ({"z": "z", "c": "c", "name": "n", "a": "a"}, {}),
        ({"a": "1", "b": "2", "c": "3"}, {"inputs": [{"id": "exec-in", "type": "execution"},
                                                   {"id": "c", "type": "string"}, {"id": "a", "type": "string"}]}),
        ({"a": 1e16, "b": 0.00001}, {"concatConfig": {"separator": "|"}}),
    ]:
        out.append(vector("concat", inp, cfg))
    for inp in [
        {"text": "a, b,,c ", "delimiter": ","}, {"text": "a,b"}, {"text": "x;y", "delimiter": ","},
        {"text": "A@@B@@", "delimiter": "@@"}, {"text": "l1\nl2\n", "delimiter": "\\n"},
        {"text": "a b", "delimiter": ""}, {"text": "", "delimiter": ""}, {"text": None},
        {"text": " a , b ", "trim": False}, {"text": "a,,b", "drop_empty": False},
        {"text": "a,,b", "trim": False, "drop_empty": 0}, {"text": "a,b,c,d", "maxsplit": 2},
        {"text": "a,b,c", "maxsplit": "1"}, {"text": "a,b,c", "maxsplit": -1}, {"text": "a,b,c", "maxsplit": "x"},
        {"text": "a,b,c", "maxsplit": 0}, {"text": 12345, "delimiter": 3}, {"text": "a1None2", "delimiter": None},
        {"text": "\u00a0x\u00a0,\x1cy\x1c", "delimiter": ","}, {"text": "a\tb", "delimiter": "\\t"},
    ]:
        out.append(vector("split", inp))
    for inp in [
        {"items": ["a", "b", "c"], "delimiter": "|"}, {"items": ["a", "b"]}, {"items": None}, {},
        {"items": "abc", "delimiter": "-"}, {"items": {"k": 1}}, {"items": [1, 2.5, True, None, [1], {"a": "b"}]},
        {"items": ["x", "y"], "delimiter": None}, {"items": ["x", "y"], "delimiter": "\\n"}, {"items": [], "delimiter": ","},
        {"items": ["it's", 'say "hi"', "both ' \""]}, {"items": [1e-7, 1e16, 123456789012.5]},
    ]:
        out.append(vector("join", inp))
    for inp in [
        {"template": "{who} has {n} items", "values": {"who": "Ada", "n": 3}},
        {"template": "{x}", "values": {}}, {"template": "{}", "values": {"a": 1}}, {"template": "{0}", "values": {"a": 1}},
        {"template": "{a}"}, {"template": "plain", "values": "not a dict"}, {"template": "{a}", "values": [1]},
        {"template": None}, {}, {"template": "{{literal}} {a}", "values": {"a": 1}},
        {"template": "{a:>6}|{a:<6}|{a:^6}|{a:*^7}", "values": {"a": "ab"}},
        {"template": "{n:05d} {n:+d} {n: d} {n:x} {n:#x} {n:X} {n:o} {n:b} {n:#b} {n:,}", "values": {"n": 255}},
        {"template": "{big:,} {big:_} {big:_x}", "values": {"big": 1234567890}},
        {"template": "{f:.2f} {f:10.3f} {f:e} {f:.3E} {f:%} {f:.1%} {f:g} {f:.3g}", "values": {"f": 3.14159}},
        {"template": "{f} {f:} {f:>8} {f:.3} {g:.3} {h:.3} {i:.20}", "values": {"f": 1.5, "g": 123.0, "h": 12.0, "i": 1e16}},
        {"template": "{f:g} {g:g} {h:G} {i:.2g} {j:#g}", "values": {"f": 1e-5, "g": 123456789.0, "h": 1e20, "i": 0.000123, "j": 2.0}},
        {"template": "{x!r} {x!s} {y!r} {z!a}", "values": {"x": "hi", "y": [1, "a"], "z": "caf\u00e9"}},
        {"template": "{b} {b:d} {b:>5} {b:f}", "values": {"b": True}},
        {"template": "{n} {l} {d}", "values": {"n": None, "l": [1, 2.0], "d": {"k": "v"}}},
        {"template": "{n:>5}", "values": {"n": None}}, {"template": "{l:>5}", "values": {"l": [1]}},
        {"template": "{a[0]} {a[1][k]} {s[1]}", "values": {"a": [10, {"k": "v"}], "s": "xyz"}},
        {"template": "{a[5]}", "values": {"a": [1]}}, {"template": "{d[0]}", "values": {"d": {"0": 1}}},
        {"template": "{a[x]}", "values": {"a": [1]}}, {"template": "{s:.2}|{s:5.1}|{s:05}", "values": {"s": "abc"}},
        {"template": "{a:{w}}|{a:>{w}.{p}f}", "values": {"a": 2.5, "w": 8, "p": 2}},
        {"template": "oops }", "values": {}}, {"template": "oops {a", "values": {"a": 1}},
        {"template": "{a!x}", "values": {"a": 1}}, {"template": "{a:d}", "values": {"a": "s"}},
        {"template": "{a:.2d}", "values": {"a": 5}}, {"template": "{a:+s}", "values": {"a": "s"}},
        {"template": "{n:-^9} {m:=+8} {m:08.2f} {z:.0f} {h:.0f} {q:.1f}", "values": {"n": -12, "m": -3.5, "z": 0.5, "h": 2.5, "q": 0.25}},
        {"template": "{a:08,}|{a:09,}|{a:010,}|{a:011,}|{a:+010,}|{a:010_x}|{a:0=10,}|{a:x=10,}|{a:08_b}|{a:#010x}", "values": {"a": 1234}},
        {"template": "{a:08,}|{a:09,}|{a:010,}|{a:011,}|{a:+010,}|{a:010_x}|{a:0=10,}|{a:x=10,}|{a:08_b}|{a:#010x}", "values": {"a": -1234}},
        {"template": "{f:012,.2f}|{f:010,.1%}|{f:015,e}|{f:0=12_.1f}|{f:,}|{g:,}|{h:,.0f}", "values": {"f": -1234.5, "g": 1e16, "h": 5e20}},
        {"template": "{s:=5}", "values": {"s": "ab"}}, {"template": "{s:#}", "values": {"s": "ab"}},
        {"template": "{i:,x}", "values": {"i": 5}}, {"template": "{i:z}", "values": {"i": 5}},
        {"template": "{i:n} {j:n} {f:n} {g:.3n}", "values": {"i": 5, "j": 1234567, "f": 1234.5, "g": 1e10}}, {"template": "{i:.}", "values": {"i": 5.0}},
        {"template": "{i:c}", "values": {"i": -1}}, {"template": "{f:d}", "values": {"f": 1.5}},
        {"template": "{a.b}", "values": {"a": {"b": 1}}},
        {"template": "{a[0}", "values": {"a": [1]}}, {"template": "{a[0]x}", "values": {"a": [1]}},
        {"template": "{ a }", "values": {" a ": "spaced"}}, {"template": "{a-b}", "values": {"a-b": "dash"}},
        {"template": "{a!r:>8}|{a!s:^7}", "values": {"a": "q'"}}, {"template": "{a!}", "values": {"a": 1}},
        {"template": "{a:{b:{c}}}", "values": {"a": 1, "b": 2, "c": 3}}, {"template": "{a:{}}", "values": {"a": 1}},
        {"template": "{c:c} {neg:f} {neg:e} {tiny:f}", "values": {"c": 65, "neg": -0.0, "tiny": 1e-7}},
        {"template": "{u} {v:.3f}", "values": {"u": 18446744073709551615, "v": 1e300}},
    ]:
        out.append(vector("format", inp))
    for inp in [
        {"template": "Hello {{name}}!", "name": "reference"},
        {"template": "{{ name | upper }} is {{size}} chars", "name": "Hello World", "size": 11},
        {"template": "{{ user.name }} / {{ items[1] }} / {{ items.0 }}", "vars": {"user": {"name": "Ada"}, "items": ["a", "b"]}},
        {"template": "{{a}} {{b}}", "vars": {"a": "from vars", "b": "vb"}, "a": "from pin"},
        {"template": "[{{missing}}] [{{ n }}]", "n": None},
        {"template": "{{ obj }} {{ lst }}", "obj": {"b": 1, "a": ["x", None, True, 1.0]}, "lst": [1, "é"]},
        {"template": "{{ obj | json }}", "obj": {"b": 1, "a": 2}}, {"template": "{{ s | json }}", "s": "q\"\n"},
        {"template": "{{ xs | join(\", \") }} {{ xs | join('-') }} {{ xs | join }} {{ xs | join(+) }}", "xs": ["a", 1, None]},
        {"template": "{{ s | join(\"/\") }}", "s": "abc"}, {"template": "{{ s | trim | upper }}", "s": "  pad  "},
        {"template": "{{ s | lower }} {{ s | bogus }}", "s": "MiXeD"}, {"template": "{{ xs | bogus }}", "xs": [1, "a"]},
        {"template": "{{ f }} {{ b }} {{ i }}", "f": 3.0, "b": False, "i": 7},
        {"template": "{{ _hidden }} {{ template }}", "_hidden": "h"},
        {"template": None}, {"template": 0}, {"template": 12}, {},
        {"template": "{{a\n}} {{\na}} {{ a\nb }}", "a": "A"}, {"template": "{{{a}}} {{ }} {{a}", "a": "A"},
        {"template": "{{ d.0 }} {{ d[0] }} {{ l[5] }} {{ l.x }}", "d": {"0": "zero"}, "l": [1]},
        {"template": "{{ a[x] }} {{ a.[0] }}", "a": {"x": "ax"}}, {"template": "{{ v }}", "vars": "not a dict", "v": "pin"},
        {"template": "{{ x | upper }}", "x": 1.5}, {"template": "{{ n | json }} {{ n | trim }}", "n": 0},
    ]:
        out.append(vector("string_template", inp))
    text_inputs = [{"text": "  Hello World  "}, {"text": "straße ǅ"}, {"text": None}, {}, {"text": 12.0},
                   {"text": ["a"]}, {"text": "ΟΔΟΣ İ"}, {"text": "\u2003\x1ctab\t\n"}, {"text": True}]
    for node in ("uppercase", "lowercase", "trim", "length", "is_empty_string"):
        for inp in text_inputs:
            out.append(vector(node, inp))
    out += [vector("is_empty_string", {"text": ""}), vector("is_empty_string", {"text": " "}),
            vector("is_empty_string", {"text": 0}), vector("length", {"text": "😀é"})]
    for inp in [
        {"text": "  Hello World  ", "start": 0, "end": 5}, {"text": "Hello", "start": 1}, {"text": "Hello", "start": -3},
        {"text": "Hello", "start": -3, "end": -1}, {"text": "Hello", "start": 4, "end": 2}, {"text": "Hello", "start": 10},
        {"text": "Hello", "start": -10, "end": 2}, {"text": "Hello", "start": "1", "end": "3"}, {"text": "Hello", "start": 1.9},
        {"text": "Hello", "start": None}, {"text": "Hello", "end": None}, {"text": "Hello", "start": "x"},
        {"text": "Hello", "end": [1]}, {"text": None, "start": 1}, {"text": "😀é", "start": 1}, {"start": 1},
        {"text": 12345, "start": 1, "end": 3}, {"text": "Hello", "start": True},
    ]:
        out.append(vector("substring", inp))
    for inp in [
        {"text": "Hello World", "pattern": "World"}, {"text": "Hello", "pattern": ""}, {"text": "Hello"},
        {"text": None, "pattern": "None"}, {"text": "x", "pattern": None}, {"text": "a1.0b", "pattern": 1.0},
        {"text": "TrueFalse", "pattern": True}, {"text": [1, 2], "pattern": "1, 2"}, {"pattern": "x"},
        {"text": "hello", "pattern": "Hello"},
    ]:
        out.append(vector("contains", inp))
    for inp in [
        {"text": "Hello World", "pattern": "World", "replacement": "Rust"},
        {"text": "rust and rust", "pattern": "rust", "replacement": "Rust"},
        {"text": "aaa", "pattern": "a", "replacement": "b", "mode": "first"},
        {"text": "aaa", "pattern": "a", "replacement": "b", "mode": " First "},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": "2"},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": 2.0},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": True},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": "0"},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": "-1"},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": "2.5"},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": "once"},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": "*"},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": None},
        {"text": "aaaa", "pattern": "a", "replacement": "b", "mode": [1]},
        {"text": "aaaa", "pattern": "a", "mode": "1"}, {"text": "abc", "pattern": ""}, {"text": "abc"},
        {"text": None, "pattern": "x"}, {"pattern": "a", "replacement": "b"}, {"text": 1.5, "pattern": ".", "replacement": ","},
        {"text": "a-b", "pattern": "-", "replacement": None},
    ]:
        out.append(vector("replace", inp))
    return out


def logic_cases():
    out = []
    compare_inputs = [
        ({"a": 12, "b": 10, "op": ">"}), ({"a": 10, "b": 10, "op": ">"}), ({"a": 1, "b": 1.0}),
        ({"a": True, "b": 1}), ({"a": "1", "b": 1}), ({"a": "1", "b": 1, "op": "<"}), ({"a": "a", "b": "b", "op": "<"}),
        ({"a": "B", "b": "a", "op": "<"}), ({"a": None, "b": None}), ({}), ({"a": None, "b": 0, "op": "<="}),
        ({"a": [1, 2], "b": [1, 3], "op": "<"}), ({"a": [1, 2], "b": [1, 2, 0], "op": "<"}), ({"a": [1, 2], "b": [1, "x"], "op": "<"}),
        ({"a": [1, "a"], "b": [1, "b"], "op": "<"}), ({"a": {"x": 1}, "b": {"x": 1.0}}), ({"a": {"x": 1, "y": 2}, "b": {"y": 2, "x": 1}}),
        ({"a": {"x": 1}, "b": {"x": 2}, "op": "<"}), ({"a": 1, "b": 2, "op": "!="}), ({"a": 3, "b": 3, "op": ">="}),
        ({"a": 3, "b": 4, "op": "<="}), ({"a": 2.5, "b": 2, "op": ">"}), ({"a": 9007199254740993, "b": 9007199254740992.0}),
        ({"a": 9007199254740993, "b": 9007199254740992.0, "op": ">"}), ({"a": 1, "b": 2, "op": "=<"}), ({"a": 1, "b": 2, "op": None}),
        ({"a": 1, "b": 2, "op": " < "}), ({"a": False, "b": 0.0}), ({"a": "10", "b": "9", "op": "<"}), ({"a": [], "b": [], "op": "<="}),
        ({"a": True, "b": False, "op": ">"}), ({"a": "é", "b": "z", "op": ">"}),
    ]
    for inp in compare_inputs:
        out.append(vector("compare", inp))
    truthy_values = [True, False, None, 0, 1, 0.0, -0.5, "", "false", "0", [], [0], {}, {"a": None}]
    for v in truthy_values:
        out.append(vector("not", {"value": v}))
    out.append(vector("not", {}))
    pairs = [(True, True), (True, False), (False, True), (1, "x"), ("", 1), (None, [1]), ([], {})]
    for node in ("and", "or"):
        for a, b in pairs:
            out.append(vector(node, {"a": a, "b": b}))
        out += [vector(node, {"a": True}), vector(node, {"b": True}), vector(node, {})]
    three = {"inputs": [{"id": "exec-in", "type": "execution"}, {"id": "c"}, {"id": "a"}, {"id": "b"}]}
    for inp, cfg in [
        ({"a": None, "b": "Hello World"}, {}), ({"a": "Ferris", "b": "Hello World"}, {}), ({"a": "", "b": "x"}, {}),
        ({"a": 0, "b": 1}, {}), ({"a": False, "b": True}, {}), ({}, {}), ({"a": None, "b": None}, {}),
        ({"b": [1, 2]}, {}), ({"a": {"k": "v"}}, {}), ({"a": {"result": 5, "other": 1}}, {}),
        ({"a": 1, "b": 2, "c": 3}, three), ({"a": 1, "b": 2, "c": None}, three), ({"c": 3}, {}),
        ({"a": 1, "b": 2}, {"inputs": [{"id": "b"}, {"id": "a"}]}), ({"a": 1, "b": 2}, {"inputs": []}),
        ({"x": 9, "a": None}, {"inputs": [{"id": "x"}, "junk", {"id": ""}]}),
    ]:
        out.append(vector("coalesce", inp, cfg))
    return out


def seeded_cases():
    """Deterministic pseudo-random inputs, for the number formatting and rounding paths."""
    import random

    rng = random.Random(20261121)
    out = []
    for _ in range(60):
        value = round(rng.uniform(-2000, 2000), rng.randint(0, 4))
        if rng.random() < 0.3:
            value = rng.choice([0.5, 1.5, 2.5, -3.5, 0.125, 0.375, 1.005, 2.675, 1e15 + 0.5, 123456.785])
        out.append(vector("round", {"value": value, "decimals": rng.randint(-4, 4)}))
    for _ in range(30):
        a, b = rng.uniform(-100, 100), rng.choice([rng.uniform(-10, 10), rng.randint(-9, 9) or 3])
        out.append(vector("modulo", {"a": round(a, 3), "b": b}))
    specs = ["", ".2f", ".0f", "e", ".3e", "g", ".2g", ".12g", "%", ".1%", ",.2f", "_.3f", "+.1f", " .2e",
             ">12.4f", "<10g", "^11.2e", "#.0f", "#.3g", ".3", ".1", "10", "015.3f", "-"]
    for _ in range(60):
        value = rng.choice([rng.uniform(-1e6, 1e6), rng.uniform(-1, 1), 10 ** rng.randint(-8, 20) * rng.random(),
                            rng.randint(-10**6, 10**6), 0.5, 2.5, 1e16, 1e-5, 123.0])
        spec = rng.choice(specs)
        out.append(vector("format", {"template": "{v:" + spec + "}", "values": {"v": value}}))
    for _ in range(30):
        value = rng.choice([rng.uniform(-1e20, 1e20), rng.uniform(-1e-3, 1e-3), 10 ** rng.randint(-20, 25) * 1.0,
                            float(rng.randint(-99999, 99999)), rng.random()])
        out.append(vector("concat", {"a": value, "b": rng.randint(-5, 5)}, {"concatConfig": {"separator": "|"}}))
    for _ in range(30):
        text = "".join(rng.choice("ab😀é ") for _ in range(rng.randint(0, 8)))
        inp = {"text": text, "start": rng.randint(-10, 10)}
        if rng.random() < 0.7:
            inp["end"] = rng.randint(-10, 10)
        out.append(vector("substring", inp))
    return out


def run_vars_template_cases():
    """string_template with `_run_vars`, the run variables the visual executor gives it: read
    last (after pins and `vars`), never their `_` keys."""
    out = []
    run_vars = {"user": {"name": "Ada"}, "n": 3, "_temp": {"secret": 1}, "items": ["a", "b"], "shadow": "run"}
    for inp in [
        {"template": "{{ user.name }} {{ n }} {{ items | join('+') }} {{ _temp.secret }}", "_run_vars": run_vars},
        {"template": "{{ shadow }} {{ n }}", "_run_vars": run_vars, "vars": {"shadow": "vars"}, "n": "pin"},
        {"template": "{{ shadow }}", "_run_vars": run_vars, "shadow": None},
        {"template": "{{ n }}", "_run_vars": "not a dict"}, {"template": "{{ n }}", "_run_vars": None},
    ]:
        out.append(vector("string_template", inp))
    return out


def main() -> None:
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors.json")
    target = sys.argv[1] if len(sys.argv) > 1 else default
    vectors = math_cases() + string_cases() + logic_cases() + seeded_cases()
    vectors += run_vars_template_cases()
    with open(target, "w", encoding="utf-8") as fh:
        json.dump(vectors, fh, ensure_ascii=False, indent=1, allow_nan=False)
        fh.write("\n")
    errors = sum(1 for v in vectors if v.get("expect_error"))
    print(f"wrote {len(vectors)} vectors ({errors} expect_error) to {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
