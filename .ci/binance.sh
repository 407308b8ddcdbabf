#!/usr/bin/env bash
# The Binance USDⓈ-M dialect against a fresh release server on 127.0.0.1: ccxt's own test
# suite (ccxt==4.5.90, unmodified, URLs pointed here), a scripted ccxt session (sync and
# ccxt.pro, isolated margin, hedge mode) checked value by value against the native API,
# hummingbot's binance_perpetual call set (one-way and hedge mode), and Binance's official
# connector (binance-futures-connector==4.2.0).
# Standalone: builds the release binaries if they are missing. About two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
step() { printf '\n--> binance: %s (%ss)\n' "$*" "$SECONDS"; }

if [ ! -x target/release/perpx ] || [ ! -x target/release/loadgen ]; then
  step "build the release binaries"
  cargo build --release --bins
fi
step "python packages"
python3 -c 'import ccxt, sys; sys.exit(ccxt.__version__ != "4.5.90")' 2>/dev/null \
  || python3 -m pip install --quiet "ccxt==4.5.90"
python3 -c 'import websockets, psutil' 2>/dev/null || python3 -m pip install --quiet websockets psutil
python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("binance-futures-connector") != "4.2.0")' 2>/dev/null \
  || python3 -m pip install --quiet "binance-futures-connector==4.2.0"

work=$(mktemp -d)
port=${BINANCE_CI_PORT:-18190}
base="http://127.0.0.1:$port"
token=ci-binance-token
# The shipped markets, with operator-fed (oracle) indices instead of the demo walk: the
# scripts compare answers taken moments apart, so the mark must move only when they move it.
sed -e 's/^index_source = "demo".*/index_source = "oracle"/' -e 's/^index_stale_after = .*/index_stale_after = "1h"/' \
  markets.toml >"$work/markets.toml"
PERPX_ADMIN_TOKEN=$token RUST_LOG=warn target/release/perpx --config "$work/markets.toml" \
  --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill -9 "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/fapi/v1/ping" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

step "ccxt's own test suite (binanceusdm BTC/USDT:USDT --sync --private --info)"
read -r key secret < <(python3 tests/binance/new_account.py "$base" "$token")
python3 tests/binance/ccxt_suite_setup.py "$work/ccxt" "$base" "$key" "$secret"
(cd "$work/ccxt" && PYTHONPATH="$work/ccxt/python" timeout 300 \
  python3 python/ccxt/test/tests_init.py binanceusdm BTC/USDT:USDT --sync --private --info) \
  >"$work/ccxt.log" 2>&1 || { cat "$work/ccxt.log"; exit 1; }
summary() { grep -E "^\[INFO\] $1 " "$work/ccxt.log" | awk '{print $NF}' | sort -u | tr '\n' ' '; }
echo "passed:      $(summary 'TESTING DONE')"
echo "skipped:     $(summary 'SKIPPED_TEST')(reasons: tests/binance/skip-tests.json)"
echo "unsupported: $(summary 'UNSUPPORTED_TEST')(binanceusdm has no such method)"
echo "no test:     $(summary 'UNIMPLEMENTED_TEST')(ccxt ships no test file)"
if grep -q "TEST_FAILURE\|TESTING FAILED" "$work/ccxt.log"; then
  grep -B2 -A30 "TEST_FAILURE" "$work/ccxt.log" | head -200
  echo "ccxt's test suite failed" >&2
  exit 1
fi
[ "$(grep -c '^\[INFO\] TESTING DONE' "$work/ccxt.log")" -ge 20 ] \
  || { echo "ccxt's suite ran too few methods" >&2; cat "$work/ccxt.log"; exit 1; }

step "scripted ccxt session (sync and ccxt.pro; isolated margin; hedge mode) against the native API"
(cd tests/binance && timeout 300 python3 ccxt_session.py --url "$base" --admin-token "$token" \
  --loadgen "$PWD/../../target/release/loadgen")

step "hummingbot binance_perpetual call set (one-way, then hedge mode)"
(cd tests/binance && timeout 120 python3 hummingbot_replay.py --url "$base" --admin-token "$token")

step "the README's ccxt snippet, as written (host swapped for this server)"
read -r key secret < <(python3 tests/binance/new_account.py "$base" "$token")
timeout 60 python3 - "$base" "$key" "$secret" <<'PY'
import contextlib, io, re, sys
base, key, secret = sys.argv[1:4]
readme = open("README.md").read()
code = re.search(r"### Use it from ccxt\n\n```python\n(.*?)```", readme, re.S).group(1)
out = io.StringIO()
g = {"KEY": key, "SECRET": secret}
with contextlib.redirect_stdout(out):
    exec(code.replace("http://127.0.0.1:8080/", base + "/"), g)
assert "'status': 'open'" in out.getvalue(), out.getvalue()
print("the README snippet placed an open order")
# With the snippet's error-table line, Binance's futures codes keep their ccxt classes
# (-2022: a reduce-only order without a position; -4164: below the minimum notional).
import ccxt
ex = g["ex"]
for what, args in [("-2022", ("market", "sell", 0.01, None, {"reduceOnly": True})),
                   ("-4164", ("limit", "buy", 0.001, 1000))]:
    try:
        ex.create_order("BTC/USDT:USDT", *args)
        raise SystemExit(f"{what}: the order was accepted")
    except ccxt.InvalidOrder as e:
        print(f"{what} surfaces as {type(e).__name__}")
PY

step "Binance's official connector (binance-futures-connector 4.2.0): info, orders, positions, margin type, isolated margin, position mode (one-way and hedge)"
(cd tests/binance && timeout 120 python3 connector_session.py --url "$base" --admin-token "$token")

step "the server stops cleanly"
kill -INT "$server"
wait "$server" || { echo "server did not stop cleanly" >&2; cat "$work/server.log"; exit 1; }
step "done"
