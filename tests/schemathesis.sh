#!/usr/bin/env bash
# Property-based API testing: schemathesis generates requests from the OpenAPI
# document of a live demo and checks every response against it, once with an
# auditor token and once with a centre token. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/${TTHC_WATCH_BIN:-target/debug/tthc-watch}
VENV=${SCHEMATHESIS_VENV:-/tmp/tthc-schemathesis}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q schemathesis
fi
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" demo --dir "$DIR" --dossiers 1500 --port "$PORT" --interval 600 --now 2026-11-25T08:00:00+07:00 >"$DIR/demo.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 60); do
  [ -s "$DIR/auditor-token.txt" ] && python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/readyz')" 2>/dev/null && break
  sleep 1
done
AUDITOR=$(cat "$DIR/auditor-token.txt")
CENTRE=$(TTHC_WATCH__DATABASE__URL="sqlite://$DIR/tthc-watch.db" "$BIN" token create --role centre --name schemathesis 2>/dev/null)
# schemathesis keeps a cache in the current folder: not in the working tree.
cd "$DIR"
for TOKEN in "$AUDITOR" "$CENTRE"; do
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $TOKEN" --checks all -n 50
done
