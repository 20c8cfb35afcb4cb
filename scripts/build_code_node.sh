#!/usr/bin/env bash
# Builds the first-party Python `code` node component:
#   plugins-py/code-node/*.py + wit/ (world node-executor) -> target/python-plugins/code_node.wasm
# with componentize-py (pinned) in target/py-venv. Skips the build when target/python-plugins/
# code_node.sha256 records the same sha256 over the sources, the wit files and this script.
# Prints the output path. Usage: scripts/build_code_node.sh [--force]
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/plugins-py/code-node"
VENV="$ROOT/target/py-venv"
OUT_DIR="$ROOT/target/python-plugins"
OUT="$OUT_DIR/code_node.wasm"
STAMP="$OUT_DIR/code_node.sha256"
PYTHON="${PYTHON:-python3}"

hash_inputs() {
  (cd "$ROOT" && find plugins-py/code-node -name '*.py' ! -name 'test_*' ! -name 'smoke_*' ! -name 'gen_*' | LC_ALL=C sort \
     && find wit -type f | LC_ALL=C sort && echo scripts/build_code_node.sh) \
    | while read -r f; do printf '%s  ' "$f"; sha256sum < "$ROOT/$f"; done \
    | { cat; echo "componentize-py==$COMPONENTIZE_PY_VERSION"; } | sha256sum | cut -d' ' -f1
}

want="$(hash_inputs)"
if [[ "${1:-}" != "--force" && -f "$OUT" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "up to date: $OUT" >&2
  echo "$OUT"
  exit 0
fi

if ! "$VENV/bin/componentize-py" --version 2>/dev/null | grep -qx "componentize-py $COMPONENTIZE_PY_VERSION"; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

mkdir -p "$OUT_DIR"
rm -f "$STAMP"
# componentize-py generates the wit_world bindings on the fly; `-p` is the app's module path.
# No VIRTUAL_ENV: only plugins-py/code-node (and the stdlib it imports) goes into the component.
(cd "$SRC" && env -u VIRTUAL_ENV "$VENV/bin/componentize-py" -q -d "$ROOT/wit" -w node-executor \
  componentize app -p "$SRC" -o "$OUT.tmp")
mv "$OUT.tmp" "$OUT"
echo "$want" > "$STAMP"
echo "$OUT"
