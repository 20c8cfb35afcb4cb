#!/usr/bin/env bash
# The idle cost of the plugins-directory watcher: a serving gateway gets one ~21 MB component
# dropped into its plugins dir, then sits idle for 20 s. Reports the CPU it used and how many
# times it reloaded the directory. Run from the repository root after `cargo build --release`:
#
#   bash host/agw-bench/idle_watch.sh
set -euo pipefail
bin=${AGW_BIN:-target/release/abstractgateway}
component=${AGW_COMPONENT:-target/wasm-plugins/wasm32-wasip2/release/test_hostile.wasm}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# The component padded with a 20 MiB custom section: still a valid component, as big as a
# componentize-py one.
python3 - "$component" "$work/big.wasm" <<'PY'
import sys
def leb(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)
payload = leb(3) + b"pad" + bytes(20 * 1024 * 1024)
open(sys.argv[2], "wb").write(open(sys.argv[1], "rb").read() + b"\0" + leb(len(payload)) + payload)
PY
mkdir -p "$work/data/plugins"
ABSTRACTGATEWAY_DATA_DIR="$work/data" ABSTRACTGATEWAY_AUTH_TOKEN=t RUST_LOG=info NO_COLOR=1 \
  "$bin" serve --port 0 >"$work/log" 2>&1 &
pid=$!
sleep 3
cp "$work/big.wasm" "$work/data/plugins/big.wasm"
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks); r0=$(grep -c "plugins reloaded" "$work/log" || true)
sleep 20
t1=$(ticks); r1=$(grep -c "plugins reloaded" "$work/log" || true)
hz=$(getconf CLK_TCK)
echo "idle 20 s after the drop: CPU $(echo "scale=2; ($t1 - $t0) * 100 / ($hz * 20)" | bc) % of a core, $((r1 - r0)) reloads (reloads since the drop: $r1)"
