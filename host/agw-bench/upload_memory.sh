#!/usr/bin/env bash
# What one huge upload costs a serving gateway: RSS after two overwriting uploads, a reload and
# a run start. Run from the repository root after `cargo build --release`:
#
#   bash host/agw-bench/upload_memory.sh [NODES] [extra env, e.g. ABSTRACTGATEWAY_MAX_FLOW_NODES=200000 ...]
set -euo pipefail
nodes=${1:-100000}; shift || true
bin=${AGW_BIN:-target/release/abstractgateway}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo run -q --release -p agw-domain --example compile_peak -- "$nodes" "$work/big@1.0.0.flow" >/dev/null
port=$((20000 + RANDOM % 20000))
env ABSTRACTGATEWAY_DATA_DIR="$work/data" ABSTRACTGATEWAY_SECURITY=0 ABSTRACTGATEWAY_FSYNC=0 "$@" \
  "$bin" serve --host 127.0.0.1 --port "$port" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/api/gateway/bundles" && break; sleep 0.2; done
rss() { awk '/VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$pid/status"; }
echo "idle: $(rss)"
for k in 1 2; do
  started=$(date +%s.%N)
  code=$(curl -s -o "$work/up$k.json" -w "%{http_code}" -F "file=@$work/big@1.0.0.flow" -F overwrite=true \
    "http://127.0.0.1:$port/api/gateway/bundles/upload")
  echo "upload $k: HTTP $code in $(echo "$(date +%s.%N) - $started" | bc) s, RSS $(rss): $(head -c 200 "$work/up$k.json")"
done
started=$(date +%s.%N)
curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/gateway/bundles/reload"
echo "reload: $(echo "$(date +%s.%N) - $started" | bc) s, RSS $(rss)"
curl -s -o /dev/null -H 'content-type: application/json' -d '{"bundle_id":"big"}' \
  "http://127.0.0.1:$port/api/gateway/runs/start"
sleep 2
echo "after a run start: RSS $(rss)"
