#!/usr/bin/env bash
# Many markets on one node (docs/OPERATIONS.md §11), release build, everything on 127.0.0.1:
#  1. idle cost: N copies of the shipped BTC-PERP (demo index, no orders, no clients) for
#     N = 10, 100, 500, 1000 — start to healthy, heap, RSS, idle CPU, threads, /metrics,
#     GET /api/v1/markets and exchangeInfo (benches/markets/idle.py);
#  2. orders/s on BTC-PERP alone vs with 499 idle neighbours, interleaved rounds
#     (benches/markets/neighbours.py, the relaxed run of benches/http/bench.py; needs wrk).
# About 5 minutes. MARKETS="10 100" and ROUNDS=1 SECONDS_PER_RUN=5 shorten it.
#   bash benches/markets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PERPX_BIN:-target/release/perpx}
if [ ! -x "$BIN" ]; then
  cargo build --release --bins
fi
echo "== idle markets ($BIN) =="
# shellcheck disable=SC2086
python3 benches/markets/idle.py "$BIN" ${MARKETS:-10 100 500 1000}
echo
echo "== orders/s on one market with idle neighbours =="
PERPX_BIN="$BIN" python3 benches/markets/neighbours.py --idle 499 \
  --rounds "${ROUNDS:-3}" --seconds "${SECONDS_PER_RUN:-15}"
