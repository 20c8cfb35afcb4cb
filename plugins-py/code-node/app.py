"""The `code` node as a WASI component (world `node-executor` of wit/gateway.wit).

Built by scripts/build_code_node.sh with componentize-py; the logic lives in sandbox.py so it
can be tested with plain python3 (test_app_logic.py).
"""

import json
from typing import List

import sandbox  # preloads the allowed modules at build time
import wit_world
from componentize_py_types import Err
from wit_world.exports import nodes
from wit_world.imports import types

NAME = "code-node"
VERSION = "0.1.0"
SDK_VERSION = "0.1.0"


class Plugin(wit_world.exports.Plugin):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            description="Python `code` nodes: a function body run in a sandboxed interpreter",
            sdk_version=SDK_VERSION,
            capabilities=types.Capabilities(
                outbound_hosts=[],
                workspace=types.WorkspaceAccess.NONE,
                config_keys=[],
                secrets=[],
                memory_mib=None,
            ),
        )


class Nodes(wit_world.exports.Nodes):
    def list_nodes(self) -> List[nodes.NodeSpec]:
        return [
            nodes.NodeSpec(
                node_type="code",
                category="code",
                description=(
                    "Runs `data.codeBody` as the body of `data.functionName` (default `transform`); "
                    "input pins become locals; a returned dict's keys become output pins"
                ),
                inputs=[nodes.Pin(id="permissions", label="Permissions", kind="string")],
                outputs=[
                    nodes.Pin(id="output", label="Output", kind="any"),
                    nodes.Pin(id="result", label="Result", kind="any"),
                    nodes.Pin(id="success", label="Success", kind="boolean"),
                ],
                pure=False,
            )
        ]

    def execute(self, node_type: str, config: str, inputs: str, ctx: nodes.NodeContext) -> str:
        if node_type != "code":
            raise Err(nodes.NodeError_UnknownNode(node_type))
        try:
            cfg = json.loads(config) if config.strip() else {}
        except ValueError as e:
            raise Err(nodes.NodeError_InvalidInput(f"config: not JSON ({e})"))
        try:
            ins = json.loads(inputs) if inputs.strip() else {}
        except ValueError as e:
            raise Err(nodes.NodeError_InvalidInput(f"inputs: not JSON ({e})"))
        try:
            return json.dumps(sandbox.run(cfg, ins), allow_nan=False)
        except sandbox.InvalidInput as e:
            raise Err(nodes.NodeError_InvalidInput(str(e)))
        except sandbox.CodeNodeError as e:
            raise Err(nodes.NodeError_Failed(str(e)))
        except Exception as e:  # anything else is ours, not the snippet's
            raise Err(nodes.NodeError_Failed(f"code node: internal error: {type(e).__name__}: {e}"))
