"""Plain-python3 tests of sandbox.py (no wasm, no bindings): python3 plugins-py/code-node/test_app_logic.py"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sandbox  # noqa: E402
from allowlist import ALLOWED_MODULES, DENIED_MODULES  # noqa: E402


def node(body, pins=("a", "b"), **extra):
    cfg = {"codeBody": body, "inputs": [{"id": p, "type": "any"} for p in pins]}
    cfg.update(extra)
    return cfg


class CodeNodeTest(unittest.TestCase):
    def test_pins_become_locals_and_dict_keys_become_outputs(self):
        out = sandbox.run(node("return {'sum': a + b}"), {"a": 2, "b": 3})
        self.assertEqual(out, {"sum": 5, "success": True, "output": {"sum": 5}, "result": {"sum": 5}})

    def test_source_matches_reference_shape(self):
        cfg = node("return {'x': my_pin}", pins=("my-pin", "exec-in", "permissions", "class"))
        cfg["inputs"][1]["type"] = "execution"
        src = sandbox.build_source(cfg, "transform")
        self.assertEqual(
            src,
            'def transform(_input):\n    my_pin = _input.get("my-pin")\n'
            '    class_ = _input.get("class")\n    return {\'x\': my_pin}\n',
        )

    def test_function_name_and_non_dict_return(self):
        out = sandbox.run(node("return a * 2", pins=("a",), functionName="double"), {"a": 21})
        self.assertEqual(out, {"success": True, "output": 42, "result": 42})
        # invalid names fall back to transform, as in the reference
        self.assertEqual(sandbox.function_name_of({"functionName": "class"}), "transform")

    def test_empty_body_returns_input(self):
        out = sandbox.run(node(""), {"a": 1, "permissions": "sandbox"})
        self.assertEqual(out["output"], {"a": 1})

    def test_allowed_import(self):
        out = sandbox.run(node("import math, json\nfrom urllib import parse\nreturn {'r': math.sqrt(a), 'q': parse.quote('a b')}"), {"a": 9})
        self.assertEqual((out["r"], out["q"]), (3.0, "a%20b"))

    def test_denied_import_names_module(self):
        for mod in ("os", "socket", "subprocess", "numpy", "urllib.request", "functools"):
            with self.assertRaises(sandbox.CodeNodeError) as cm:
                sandbox.run(node(f"import {mod}\nreturn {{}}"), {})
            self.assertIn(f"import of '{mod}' is not allowed", str(cm.exception))
            self.assertIn("transform", str(cm.exception))

    def test_dynamic_import_is_refused_at_run_time(self):
        # no AST-visible import: goes through the __import__ guard
        with self.assertRaises(sandbox.CodeNodeError) as cm:
            sandbox.run(node("m = getattr(__builtins__, 'get')('__import__')('os')\nreturn {}"), {})
        self.assertIn("os", str(cm.exception))
        with self.assertRaises(ImportError) as cm2:
            sandbox._sandbox_import("sys")
        self.assertEqual(cm2.exception.name, "sys")

    def test_allowlist_is_preloaded_minus_denied(self):
        self.assertFalse(ALLOWED_MODULES & set(DENIED_MODULES))
        for mod in ALLOWED_MODULES:
            self.assertIn(mod, sys.modules)

    def test_no_state_between_calls(self):
        sandbox.run(node("global leaked\nleaked = 1\nimport math\nmath.pi = 3\nreturn {}"), {})
        out = sandbox.run(node("import math\ntry:\n    leaked\n    seen = True\nexcept NameError:\n    seen = False\nreturn {'pi': math.pi, 'seen': seen}", pins=()), {})
        self.assertEqual((out["pi"] > 3.14, out["seen"]), (True, False))

    def test_modules_imported_by_a_call_are_removed(self):
        before = set(sys.modules)
        sandbox.run(node("import collections.abc\nreturn {}"), {})
        self.assertEqual(set(sys.modules), before)

    def test_runtime_error_carries_traceback(self):
        with self.assertRaises(sandbox.CodeNodeError) as cm:
            sandbox.run(node("def helper(x):\n    return x / 0\nreturn {'v': helper(a)}", functionName="calc"), {"a": 1})
        msg = str(cm.exception)
        self.assertIn("calc: Runtime error: ZeroDivisionError", msg)
        self.assertIn("Traceback", msg)
        self.assertIn("return x / 0", msg)
        self.assertNotIn("sandbox.py", msg)

    def test_reference_checks(self):
        for body, needle in (("return eval('1')", "'eval' is not allowed"),
                             ("return a.__class__", "dunder"),
                             ("return (", "Syntax error"),
                             ("return open('/etc/passwd')", "NameError"),
                             ("return {'f': len}", "cannot be sent as JSON")):
            with self.assertRaises(sandbox.CodeNodeError) as cm:
                sandbox.run(node(body), {"a": 1})
            self.assertIn(needle, str(cm.exception))

    def test_private_getattr_refused(self):
        with self.assertRaises(sandbox.CodeNodeError) as cm:
            sandbox.run(node("return getattr(a, '_x')"), {"a": 1})
        self.assertIn("private attribute", str(cm.exception))

    def test_full_access_and_bad_inputs(self):
        with self.assertRaises(sandbox.CodeNodeError):
            sandbox.run(node("return {}"), {"permissions": "full_access"})
        with self.assertRaises(sandbox.InvalidInput):
            sandbox.run(node("return {}"), [1])


if __name__ == "__main__":
    unittest.main()
