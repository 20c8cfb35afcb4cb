"""The code node's logic, free of the WIT bindings so plain `python3` can test it.

Mirrors the reference (abstractruntime/visualflow_compiler/visual/executor.py
`_create_code_runtime_handler` / `_generate_code_from_body`, and code_executor.py), with the
WASI component as the outer sandbox (no host filesystem, no network, a memory and time cap set
by the host) and these rules inside it:

* Imports: a snippet may import only ALLOWED_MODULES (allowlist.py, generated from the
  reference's SANDBOX_DENIED_MODULES) plus ALLOWED_SUBMODULES. Every one of them is imported
  here, at component build time, so it exists in the component. Anything else raises an
  ImportError naming the module.
* Isolation: each call execs into a new globals dict with a new builtins dict; afterwards any
  module the call added to sys.modules is removed, any allowed module whose attributes the call
  rebound is restored from a snapshot, and `random` is reseeded before each call (its state
  would otherwise be the one baked in at build time).
"""

from __future__ import annotations

import ast
import builtins as _builtins
import importlib
import json
import keyword
import linecache
import random
import re
import sys
import textwrap
import traceback
from typing import Any, Dict, Optional, Tuple

from allowlist import ALLOWED_MODULES, ALLOWED_SUBMODULES, DENIED_MODULES

FILENAME = "<user_code>"
TRACEBACK_LINES = 12

# ---------------------------------------------------------------------------------------------
# Preload, then snapshot. Must stay at import time: componentize-py bundles only what is
# imported while it pre-initialises the app.
# ---------------------------------------------------------------------------------------------
for _name in sorted(ALLOWED_MODULES | ALLOWED_SUBMODULES):
    importlib.import_module(_name)

_PRELOADED: frozenset = frozenset(sys.modules)
_MODULE_SNAPSHOTS: Dict[str, Dict[str, Any]] = {
    name: dict(vars(sys.modules[name]))
    for name in sorted(_PRELOADED)
    if name.split(".", 1)[0] in ALLOWED_MODULES or name in ALLOWED_SUBMODULES
}


class CodeNodeError(Exception):
    """A code node failed; the message is what the node-error carries."""


class InvalidInput(Exception):
    """The config or inputs cannot be used."""


# ---------------------------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------------------------
def import_refusal(name: str, fromlist: Any = ()) -> Optional[str]:
    """Why importing `name` is refused, or None when it is allowed."""
    dotted = str(name or "").strip()
    if not dotted:
        return "an empty module name"
    if dotted in ALLOWED_SUBMODULES:
        return None
    if fromlist and all(isinstance(i, str) and f"{dotted}.{i}" in ALLOWED_SUBMODULES for i in fromlist):
        return None
    top = dotted.split(".", 1)[0]
    if top in ALLOWED_MODULES:
        return None
    if top in DENIED_MODULES:
        return f"it reaches {DENIED_MODULES[top]}"
    if top == "urllib":
        return "it reaches the network; only urllib.parse is importable"
    if top.startswith("_"):
        return "a private module"
    return "only these standard-library modules are importable: " + ", ".join(
        sorted(ALLOWED_MODULES | ALLOWED_SUBMODULES)
    )


def check_import(name: str, fromlist: Any = ()) -> None:
    reason = import_refusal(name, tuple(fromlist or ()))
    if reason is not None:
        raise ImportError(f"import of '{name}' is not allowed in the code node: {reason}", name=name)


def _sandbox_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level:
        raise ImportError("relative imports are not allowed in the code node", name=name)
    check_import(name, fromlist)
    return _builtins.__import__(name, globals, locals, fromlist or (), 0)


# ---------------------------------------------------------------------------------------------
# Builtins and helpers (the reference's sandbox_helper_globals, same names and semantics)
# ---------------------------------------------------------------------------------------------
_REMOVED_BUILTINS = frozenset({
    "open", "exec", "eval", "compile", "input", "breakpoint", "globals", "locals", "vars",
    "help", "exit", "quit", "copyright", "credits", "license", "memoryview", "__loader__",
    "__spec__", "__import__",
})


def _no_private(name: Any) -> None:
    if isinstance(name, str) and name.startswith("_"):
        raise AttributeError(f"access to the private attribute '{name}' is not allowed")


def _getattr(obj, name, *default):
    _no_private(name)
    return getattr(obj, name, *default)


def _hasattr(obj, name):
    _no_private(name)
    return hasattr(obj, name)


def _setattr(obj, name, value):
    _no_private(name)
    if type(obj).__name__ == "module":
        raise AttributeError("modules are read-only in the code node")
    return setattr(obj, name, value)


def _delattr(obj, name):
    _no_private(name)
    if type(obj).__name__ == "module":
        raise AttributeError("modules are read-only in the code node")
    return delattr(obj, name)


def _parse_json(text: Any) -> Any:
    if isinstance(text, (dict, list)):
        return text
    try:
        return json.loads(str(text))
    except Exception as e:
        raise CodeNodeError(f"parse_json: invalid JSON ({e}) — input head: {str(text)[:80]!r}") from e


def _to_json(obj: Any, *, indent: Any = None) -> str:
    return json.dumps(obj, default=str, indent=indent if isinstance(indent, int) else None)


def _shq(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("'", "'\\''")


def _text_of(raw: Any) -> str:
    parts: list = []
    stack: list = [raw]
    steps = 0
    while stack and steps < 400:
        steps += 1
        cur = stack.pop()
        if isinstance(cur, str):
            if cur:
                parts.append(cur)
            continue
        if isinstance(cur, dict):
            for key in ("stdout", "stderr", "stdout_preview", "stderr_preview"):
                value = cur.get(key)
                if isinstance(value, str) and value:
                    parts.append(value)
            for key in ("output", "result", "results", "payload"):
                if key in cur:
                    stack.append(cur.get(key))
            continue
        if isinstance(cur, list):
            stack.extend(cur)
    return "\n".join(parts)


def helper_globals() -> Dict[str, Any]:
    return {
        "parse_json": _parse_json,
        "to_json": _to_json,
        "shq": _shq,
        "text_of": _text_of,
        "print": lambda *args, **kwargs: None,  # silent, as in the reference
    }


def new_builtins() -> Dict[str, Any]:
    """A fresh builtins dict for one call."""
    out = {k: v for k, v in vars(_builtins).items() if k not in _REMOVED_BUILTINS}
    out.update(getattr=_getattr, hasattr=_hasattr, setattr=_setattr, delattr=_delattr)
    out["__import__"] = _sandbox_import
    return out


# ---------------------------------------------------------------------------------------------
# Building the function (reference: _generate_code_from_body / _create_code_runtime_handler)
# ---------------------------------------------------------------------------------------------
def sanitize_identifier(raw: Any) -> str:
    name = str(raw or "").strip()
    if not name:
        return "param"
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not re.match(r"^[A-Za-z_]", out):
        out = f"p_{out}"
    if keyword.iskeyword(out):
        out = f"{out}_"
    return out


def function_name_of(config: Dict[str, Any]) -> str:
    name = config.get("functionName", "transform")
    if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) or keyword.iskeyword(name):
        return "transform"
    return name


def build_source(config: Dict[str, Any], function_name: str) -> str:
    """The module source: `def <fn>(_input):`, one local per declared input pin, then the body."""
    if not isinstance(config.get("codeBody"), str):
        return config.get("code", "def transform(_input):\n    return _input")
    body = textwrap.dedent(config["codeBody"]).strip()
    lines = [f"def {function_name}(_input):"]
    pins = config.get("inputs")
    if isinstance(pins, list):
        for pin in pins:
            if not isinstance(pin, dict):
                continue
            pin_id = pin.get("id")
            if not isinstance(pin_id, str) or not pin_id:
                continue
            if pin_id == "permissions" or pin.get("type") == "execution":
                continue
            lines.append(f"    {sanitize_identifier(pin_id)} = _input.get({json.dumps(pin_id)})")
    if not body:
        lines.append("    return _input")
    else:
        for line in body.replace("\r\n", "\n").split("\n"):
            lines.append(f"    {line}")
    lines.append("")
    return "\n".join(lines)


def validate(source: str) -> ast.Module:
    """The reference's validate_code: imports, exec/eval/compile/__import__ calls, dunders."""
    try:
        tree = ast.parse(source, filename=FILENAME)
    except SyntaxError as e:
        raise CodeNodeError(f"Syntax error: {e}") from e
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_import(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise ImportError("relative imports are not allowed in the code node")
            check_import(node.module or "", tuple(a.name for a in node.names))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "__import__":
                raise CodeNodeError("'__import__' is not allowed: write `import <module>` instead")
            if node.func.id in ("exec", "eval", "compile"):
                raise CodeNodeError(f"'{node.func.id}' is not allowed")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__"):
            raise CodeNodeError(f"Access to dunder attributes ('{node.attr}') is not allowed")
    return tree


def json_offender(value: Any, path: str = "output") -> Optional[Tuple[str, str]]:
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if value == value and value not in (float("inf"), float("-inf")) else (path, "non-finite float")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = json_offender(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return (f"{path} (key {key!r})", type(key).__name__)
            found = json_offender(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    name = type(value).__name__
    if name == "module":
        name = f"module '{getattr(value, '__name__', '?')}'"
    elif name in ("function", "builtin_function_or_method", "method"):
        name = f"function '{getattr(value, '__name__', '?')}'"
    return (path, name)


def output_record(result: Any) -> Dict[str, Any]:
    """The reference's output_record_for_pins for `code` nodes: a dict result's keys become
    output pins; `output` and `result` always carry the whole value; `success` is true."""
    record: Dict[str, Any] = {}
    if isinstance(result, dict):
        record.update(result)
    record["success"] = True
    record["output"] = result
    record["result"] = result
    return record


def _user_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Drop our own frames: start at the first frame of the user's code.
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next
    lines = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip().split("\n")
    return "\n".join(lines[-TRACEBACK_LINES:])


def _restore_interpreter() -> None:
    """Undo what a call did to shared interpreter state (see the module docstring)."""
    for name in [n for n in sys.modules if n not in _PRELOADED]:
        del sys.modules[name]
    for name, snapshot in _MODULE_SNAPSHOTS.items():
        module = sys.modules.get(name)
        if module is None:
            continue
        current = vars(module)
        if current.keys() != snapshot.keys() or any(current[k] is not v for k, v in snapshot.items()):
            current.clear()
            current.update(snapshot)
    linecache.cache.pop(FILENAME, None)


def run(config: Any, inputs: Any) -> Dict[str, Any]:
    """Runs one code node: `config` is the node's data object, `inputs` the pin values."""
    if not isinstance(config, dict):
        raise InvalidInput("config: the node's data must be a JSON object")
    if not isinstance(inputs, dict):
        raise InvalidInput("inputs: must be a JSON object keyed by input pin")
    function_name = function_name_of(config)

    pin_defaults = config.get("pinDefaults") if isinstance(config.get("pinDefaults"), dict) else {}
    permissions = inputs.get("permissions", pin_defaults.get("permissions")) or "sandbox"
    mode = str(permissions).strip().lower().replace("-", "_")
    if mode in {"full_access", "full", "unrestricted"}:
        raise CodeNodeError(
            f"{function_name}: full_access code execution is not available in the code-node "
            "component; it runs every node in its sandbox"
        )
    if mode not in {"", "sandbox", "safe", "protected", "restricted", "sandboxed"}:
        raise InvalidInput(f"permissions: unsupported code execution permissions {permissions!r}")
    payload = {k: v for k, v in inputs.items() if k != "permissions"}

    source = build_source(config, function_name)
    try:
        validate(source)
        code = compile(source, FILENAME, "exec")
    except (CodeNodeError, ImportError) as e:
        raise CodeNodeError(f"{function_name}: {e}") from e

    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    random.seed()
    try:
        glb: Dict[str, Any] = {"__builtins__": new_builtins(), "__name__": "user_code", **helper_globals()}
        local_vars: Dict[str, Any] = {}
        try:
            exec(code, glb, local_vars)
        except Exception as e:
            raise CodeNodeError(f"{function_name}: Execution error: {e}\n{_user_traceback(e)}") from e
        for name, value in local_vars.items():
            if name == "__builtins__" or (name.startswith("__") and name.endswith("__")):
                continue
            if name not in glb:
                glb[name] = value
        func = local_vars.get(function_name)
        if func is None:
            raise CodeNodeError(f"Function '{function_name}' not defined in code")
        if not callable(func):
            raise CodeNodeError(f"'{function_name}' is not a callable function")
        try:
            result = func(payload)
        except Exception as e:
            raise CodeNodeError(
                f"{function_name}: Runtime error: {type(e).__name__}: {e}\n{_user_traceback(e)}"
            ) from e
        found = json_offender(result)
        if found is not None:
            path, name = found
            raise CodeNodeError(
                f"{function_name} returned a value that cannot be sent as JSON: {name} at {path}. "
                "Return data: str, int, float, bool, None, lists and dicts of those."
            )
        return output_record(result)
    finally:
        _restore_interpreter()
