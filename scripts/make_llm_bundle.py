#!/usr/bin/env python3
"""Writes the `dur-llm` test bundle: sources in tests/data/durable-flows/src/dur-llm/ and the
packed tests/data/durable-flows/dur-llm@0.1.0.flow (entries sorted, fixed 2026-12-05 12:00
timestamp, so re-packing is byte-identical).

Every flow is on_flow_start -> llm_call -> on_flow_end; the llm_call node carries the full
pin list of the upstream bundles (basic-llm-test, yoda) and the end node exposes `response`,
`success`, `meta` and `tool_calls`. The flows differ in which pins are wired from the start
node, the node's `pinDefaults` and its `effectConfig`.

    python3 scripts/make_llm_bundle.py
"""

from __future__ import annotations

import json
import os
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "durable-flows")
BUNDLE = "dur-llm"
STAMP = (2026, 12, 5, 12, 0, 0)

LLM_INPUTS = [
    ("exec-in", "execution"), ("use_context", "boolean"), ("context", "object"), ("memory", "memory"),
    ("provider", "provider"), ("model", "model"), ("system", "string"), ("prompt", "string"),
    ("tools", "tools"), ("max_in_tokens", "number"), ("temperature", "number"), ("seed", "number"),
    ("resp_schema", "object"),
]
# Not on the editor's node, but read by the reference's llm_call handler when wired.
EXTRA_INPUTS = [("max_out_tokens", "number")]
LLM_OUTPUTS = [("exec-out", "execution"), ("response", "string"), ("success", "boolean"), ("meta", "object"),
               ("tool_calls", "array")]
PIN_TYPES = dict(LLM_INPUTS + EXTRA_INPUTS)


def pin(pid: str, kind: str) -> dict:
    return {"id": pid, "label": "" if kind == "execution" else pid, "type": kind}


def node(nid: str, ntype: str, x: int, inputs=(), outputs=(), **data) -> dict:
    body = {"nodeType": ntype, "label": ntype, "inputs": [pin(*p) for p in inputs], "outputs": [pin(*p) for p in outputs]}
    body.update(data)
    return {"id": nid, "type": ntype, "position": {"x": x, "y": 0}, "data": body}


def edge(n: int, source: str, handle: str, target: str, target_handle: str) -> dict:
    return {"id": f"e{n}", "source": source, "sourceHandle": handle, "target": target, "targetHandle": target_handle}


def llm_flow(fid: str, description: str, wired=(), start_defaults=None, pin_defaults=None, effect_config=None) -> dict:
    """start -> llm -> end. `wired`: llm input pins fed from same-named start outputs."""
    start_data = {}
    if start_defaults:
        start_data["pinDefaults"] = start_defaults
    llm_data = {}
    if pin_defaults:
        llm_data["pinDefaults"] = pin_defaults
    if effect_config is not None:
        llm_data["effectConfig"] = effect_config
    nodes = [
        node("start", "on_flow_start", 0, outputs=[("exec-out", "execution")] + [(p, PIN_TYPES[p]) for p in wired],
             **start_data),
        node("llm", "llm_call", 200, inputs=LLM_INPUTS + [p for p in EXTRA_INPUTS if p[0] in wired], outputs=LLM_OUTPUTS, **llm_data),
        node("end", "on_flow_end", 400, inputs=[("exec-in", "execution"), ("response", "string"), ("success", "boolean"),
                                                 ("meta", "object"), ("tool_calls", "array")]),
    ]
    pairs = [("start", "exec-out", "llm", "exec-in"), ("llm", "exec-out", "end", "exec-in")]
    pairs += [("start", p, "llm", p) for p in wired]
    pairs += [("llm", p, "end", p) for p in ("response", "success", "meta", "tool_calls")]
    edges = [edge(i, *p) for i, p in enumerate(pairs)]
    return {"id": fid, "name": fid, "description": description, "interfaces": [], "nodes": nodes, "edges": edges,
            "entryNode": "start"}


LMSTUDIO = {"provider": "lmstudio", "model": "fake-chat"}
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "score": {"type": "number"}},
    "required": ["answer", "score"],
}
TOOLS = [{
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]


def flows() -> dict:
    out = [
        llm_flow("plain", "A prompt pin; provider and model in effectConfig.", wired=["prompt"],
                 start_defaults={"prompt": "Say hello"}, effect_config=LMSTUDIO),
        llm_flow("system", "Prompt and system pins.", wired=["prompt", "system"],
                 start_defaults={"prompt": "Say hello", "system": "You are terse."}, effect_config=LMSTUDIO),
        llm_flow("structured", "Prompt and a resp_schema pin (JSON schema object).", wired=["prompt", "resp_schema"],
                 start_defaults={"prompt": "Rate this", "resp_schema": SCHEMA}, effect_config=LMSTUDIO),
        llm_flow("structured-native", "Structured output through openai with a model the reference knows as native "
                 "(gpt-4o-mini): the schema goes out as response_format.", wired=["prompt", "resp_schema"],
                 start_defaults={"prompt": "Rate this", "resp_schema": SCHEMA},
                 effect_config={"provider": "openai", "model": "gpt-4o-mini"}),
        llm_flow("tools", "Prompt and a tools pin holding ToolSpecs {name, description, parameters}.",
                 wired=["prompt", "tools"], start_defaults={"prompt": "Weather in Paris?", "tools": TOOLS},
                 effect_config=LMSTUDIO),
        llm_flow("tools-openai", "Tool call through the openai provider.",
                 wired=["prompt", "tools"], start_defaults={"prompt": "Weather in Paris?", "tools": TOOLS},
                 effect_config={"provider": "openai", "model": "fake-tools"}),
        llm_flow("slow", "Like plain, with a slow model (fake-slow-250) so streamed deltas can be watched.",
                 wired=["prompt"], start_defaults={"prompt": "Tell me a short story"},
                 effect_config={"provider": "lmstudio", "model": "fake-slow-250"}),
        llm_flow("params", "temperature, seed, max_in_tokens and max_out_tokens pins.",
                 wired=["prompt", "temperature", "seed", "max_in_tokens", "max_out_tokens"],
                 start_defaults={"prompt": "Say hello", "temperature": 0.2, "seed": 42, "max_in_tokens": 2000,
                                 "max_out_tokens": 256},
                 effect_config=LMSTUDIO),
        llm_flow("params-config", "temperature, seed and max_output_tokens in effectConfig.", wired=["prompt"],
                 start_defaults={"prompt": "Say hello"},
                 effect_config={**LMSTUDIO, "temperature": 0.1, "seed": 7, "max_output_tokens": 128}),
        llm_flow("pins", "Provider and model through pins; no effectConfig.", wired=["prompt", "provider", "model"],
                 start_defaults={"prompt": "Say hello", "provider": "openai", "model": "fake-chat"}),
        llm_flow("model-only", "Only the model through a pin (partial override).", wired=["prompt", "model"],
                 start_defaults={"prompt": "Say hello", "model": "fake-tools"}),
        llm_flow("auto", "No provider or model anywhere: the capability default (input.text).", wired=["prompt"],
                 start_defaults={"prompt": "Say hello"}, effect_config={}),
        llm_flow("fail-500", "The provider answers 500.", wired=["prompt"], start_defaults={"prompt": "Say hello"},
                 effect_config={"provider": "lmstudio", "model": "fake-500"}),
        llm_flow("fail-401", "The provider answers 401.", wired=["prompt"], start_defaults={"prompt": "Say hello"},
                 effect_config={"provider": "openai", "model": "fake-401"}),
        llm_flow("fail-unlisted", "A model the provider does not list.", wired=["prompt"],
                 start_defaults={"prompt": "Say hello"}, effect_config={"provider": "lmstudio", "model": "fake-missing"}),
        llm_flow("fail-429", "The provider answers 429 with retry-after: 1.", wired=["prompt"],
                 start_defaults={"prompt": "Say hello"}, effect_config={"provider": "lmstudio", "model": "fake-429"}),
        llm_flow("fail-truncated", "The provider sends half a JSON body.", wired=["prompt"],
                 start_defaults={"prompt": "Say hello"},
                 effect_config={"provider": "lmstudio", "model": "fake-truncated"}),
    ]
    return {f["id"]: f for f in out}


def main() -> None:
    all_flows = flows()
    manifest = {
        "bundle_format_version": "1",
        "bundle_id": BUNDLE,
        "bundle_version": "0.1.0",
        "created_at": "2026-12-05T12:00:00+00:00",
        "entrypoints": [{"flow_id": fid, "name": fid, "description": f["description"], "interfaces": []}
                        for fid, f in all_flows.items()],
        "default_entrypoint": "plain",
        "flows": {fid: f"flows/{fid}.json" for fid in all_flows},
        "assets": {},
        "artifacts": {},
        "metadata": {},
    }
    files = {"manifest.json": manifest, **{f"flows/{fid}.json": f for fid, f in all_flows.items()}}
    src = os.path.join(ROOT, "src", BUNDLE)
    if os.path.isdir(os.path.join(src, "flows")):
        for name in os.listdir(os.path.join(src, "flows")):
            os.remove(os.path.join(src, "flows", name))
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
