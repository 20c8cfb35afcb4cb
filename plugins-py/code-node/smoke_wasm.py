"""Runs the built component in wasmtime-py (not a project dependency; install it in a scratch venv:
`pip install wasmtime==50.0.1`) and calls describe / list-nodes / execute on ONE instance:

    python smoke_wasm.py target/python-plugins/code_node.wasm
"""

import json
import sys
import time

import wasmtime
from wasmtime import component as c

PKG = "abstractgateway:plugin"
VER = "@0.1.0"

path = sys.argv[1]
engine = wasmtime.Engine()
t0 = time.time()
comp = c.Component.from_file(engine, path)
print(f"compile: {time.time() - t0:.1f}s")
linker = c.Linker(engine)
linker.add_wasip2()
with linker.root() as root:
    with root.add_instance(f"{PKG}/host{VER}") as host:
        host.add_func("log", lambda store, level, msg: print("guest log:", level, msg))
    with root.add_instance(f"{PKG}/config{VER}") as cfg:
        cfg.add_func("get", lambda store, key: None)
        cfg.add_func("get-secret", lambda store, key: None)
store = wasmtime.Store(engine)
store.set_wasi(wasmtime.WasiConfig())  # no preopens, no env, no network
t0 = time.time()
inst = linker.instantiate(store, comp)
print(f"instantiate: {(time.time() - t0) * 1000:.1f}ms")


def func(iface, name):
    parent = inst.get_export_index(store, f"{PKG}/{iface}{VER}")
    idx = inst.get_export_index(store, name, parent)
    return inst.get_func(store, idx)


def call(f, *args):
    out = f(store, *args)
    f.post_return(store)
    return out


print("describe:", vars(call(func("plugin", "describe"))))
print("list-nodes:", [vars(n) for n in call(func("nodes", "list-nodes"))])
execute = func("nodes", "execute")
ctx = c.Record()
for key, value in (("run-id", "r1"), ("workflow-id", "w1"), ("node-id", "n1")):
    setattr(ctx, key, value)  # wasmtime-py reads record fields by their WIT (kebab) names


def run(body, inputs, pins=("a", "b"), **extra):
    cfg = {"codeBody": body, "inputs": [{"id": p, "type": "any"} for p in pins], **extra}
    t0 = time.time()
    out = call(execute, "code", json.dumps(cfg), json.dumps(inputs), ctx)
    ms = (time.time() - t0) * 1000
    return out, ms


cases = [
    ("sum", "return {'sum': a + b}", {"a": 2, "b": 3}),
    ("leak", "global leaked\nleaked = 1\nimport math\nmath.pi = 3\nreturn {'pi': math.pi}", {}),
    ("no-leak", "try:\n    leaked\n    seen = True\nexcept NameError:\n    seen = False\nimport math\nreturn {'seen': seen, 'pi': math.pi}", {}),
    ("stdlib", "import json, re, hashlib, datetime, statistics, random\nfrom urllib import parse\nreturn {'h': hashlib.sha256(b'x').hexdigest()[:8], 'm': statistics.mean([a, b]), 'q': parse.quote('a b'), 'r': random.random() < 1}", {"a": 1, "b": 2}),
    ("denied", "import os\nreturn {}", {}),
    ("denied-dyn", "return __builtins__['__import__']('socket')", {}),
    ("error", "def h(x):\n    return x / 0\nreturn h(a)", {"a": 1}),
]
for name, body, inputs in cases:
    out, ms = run(body, inputs)
    print(f"{name} ({ms:.1f}ms):", out)
print("unknown node:", call(execute, "nope", "{}", "{}", ctx))
