#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing, builds the plugins once
# (the agw-firstparty build script compiles plugins/ for wasm32-wasip2 into
# target/wasm-plugins), then runs the host workspace and the plugins' native tests.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

if [ -z "${AGW_UPSTREAM_BUNDLES:-}" ]; then
  echo "NOTICE: AGW_UPSTREAM_BUNDLES is not set: the upstream bundle test will skip itself"
fi

cargo build --workspace --all-targets
cargo nextest run --workspace --no-fail-fast
# std-nodes' logic against the reference's vectors, and the LLM providers' wire formats, natively
# (the wasm build is checked through the host in agw-plugins' tests).
(cd plugins && cargo test --target-dir ../target/wasm-plugins --target "$(rustc -vV | sed -n 's/host: //p')" -p std-nodes -p openai-compatible -p anthropic)
