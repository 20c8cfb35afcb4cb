#!/usr/bin/env bash
# Sets up and runs the gateway on its defaults: the first-party plugins (built into the
# binary), the sample flows, the file store under ./runtime and a generated token.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null
cargo build --release -p agw-server

export ABSTRACTGATEWAY_DATA_DIR="${ABSTRACTGATEWAY_DATA_DIR:-$PWD/runtime}"
mkdir -p "$ABSTRACTGATEWAY_DATA_DIR"
# Drop .wasm plugins (and their plugins.toml policy) here; the gateway reloads on change.
mkdir -p "${ABSTRACTGATEWAY_PLUGINS_DIR:-$ABSTRACTGATEWAY_DATA_DIR/plugins}"
if [ -z "${ABSTRACTGATEWAY_AUTH_TOKEN:-}" ]; then
  token_file="$ABSTRACTGATEWAY_DATA_DIR/auth_token"
  if [ ! -s "$token_file" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token_file")
  fi
  ABSTRACTGATEWAY_AUTH_TOKEN="$(cat "$token_file")"
  export ABSTRACTGATEWAY_AUTH_TOKEN
fi

host="${HOST:-127.0.0.1}"
port="${PORT:-8080}"
echo "AbstractGateway: http://$host:$port  (health: /api/health, API: /api/gateway)"
echo "Token:           $ABSTRACTGATEWAY_AUTH_TOKEN"
echo "Plugins dir:     ${ABSTRACTGATEWAY_PLUGINS_DIR:-$ABSTRACTGATEWAY_DATA_DIR/plugins} (see docs/plugin-authoring.md)"
echo "Try:             curl -H \"Authorization: Bearer \$TOKEN\" http://$host:$port/api/gateway/bundles"
exec ./target/release/abstractgateway serve --host "$host" --port "$port"
