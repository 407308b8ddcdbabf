#!/usr/bin/env bash
# The OpenAPI contract checked by schemathesis against a fresh server on 127.0.0.1: every
# check, the stateful phase, a fixed seed and a bounded number of examples (see
# tests/schemathesis/schemathesis.toml). Private operations are signed by the hook in
# tests/schemathesis/hooks.py with the key of a funded account created here; admin operations
# carry the admin token. Zero failures or the script fails.
#
#   bash .ci/schemathesis.sh            # release binary (built if missing)
#   PERPX_BIN=target/debug/perpx bash .ci/schemathesis.sh
#   bash .ci/schemathesis.sh --seed 7 --max-examples 200   # any extra schemathesis options
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

if ! python3 -c 'import schemathesis, sys; sys.exit(schemathesis.__version__ != "4.32.5")' 2> /dev/null; then
  timeout 300 python3 -m pip install --quiet "schemathesis==4.32.5"
fi
BIN=${PERPX_BIN:-target/release/perpx}
if [ ! -x "$BIN" ]; then
  cargo build --release --bin perpx
fi

DIR=$(mktemp -d /tmp/perpx-schemathesis.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
TOKEN="schemathesis-admin-token"
PERPX_ADMIN_TOKEN=$TOKEN RUST_LOG=warn "$BIN" --config markets.toml --data-dir "$DIR/data" \
  --listen "127.0.0.1:$PORT" > "$DIR/server.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2> /dev/null || true
  wait "$PID" 2> /dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 200); do
  curl -fs "$BASE/api/v1/health" > /dev/null && break
  sleep 0.1
done
curl -fs "$BASE/api/v1/health" > /dev/null || { cat "$DIR/server.log"; exit 1; }

# One funded account: its key signs every generated private request.
CREATED=$(curl -fs -X POST -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/admin/accounts")
ACCOUNT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["account_id"])' "$CREATED")
KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$CREATED")
export PERPX_SECRET
PERPX_SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_secret"])' "$CREATED")
curl -fs -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"amount":"1000000"}' "$BASE/api/v1/admin/accounts/$ACCOUNT/deposits" > /dev/null

cd tests/schemathesis
set +e
SCHEMATHESIS_HOOKS=hooks timeout 600 schemathesis --config-file schemathesis.toml run \
  "$BASE/api/v1/openapi.json" \
  -H "X-API-Key: $KEY" -H "Authorization: Bearer $TOKEN" \
  --report junit --report-dir "$REPO/target/schemathesis" "$@"
RC=$?
set -e
if [ $RC -ne 0 ]; then
  echo "--- server log (last 50 lines)"
  tail -50 "$DIR/server.log"
fi
# A panic anywhere is a failure even if every answer was a contract answer.
if grep -q "panicked" "$DIR/server.log"; then
  echo "the server panicked:"; grep -A5 "panicked" "$DIR/server.log" | head -40
  exit 1
fi
exit $RC
