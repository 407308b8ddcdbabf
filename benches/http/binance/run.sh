#!/usr/bin/env bash
# Binance-form order entry against native order entry, the native order benchmark's method:
# wrk replays pre-signed limit orders (64 funded accounts, 60,000 distinct random orders of
# 0.001-0.1 BTC at mark +- 2.0), one BTC-PERP market as shipped but max_open_orders = 100000
# and rate limits off, wrk -t2 -c64 -d20s, a fresh server and data dir per run, server and wrk
# on the same machine. Native `POST /api/v1/markets/BTC-PERP/orders` and Binance
# `POST /fapi/v1/order` alternate for --rounds rounds; the ratio is over the same script run.
#
#   benches/http/binance/run.sh [--seconds 20] [--rounds 2] [--connections 64] [--json FILE]
#
# Prints requests/s, latency p50/p99/max, refused requests and server CPU per request.
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=benches/http/binance
seconds=20 rounds=2 conns=64 json=""
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -x target/release/perpx ] || cargo build --release --bins

work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$work"' EXIT
# The shipped BTC-PERP market alone, with room for every resting order and no rate limits.
python3 - "$work/markets.toml" <<'PY'
import re, sys
s = open("markets.toml").read()
first = s.index("[[markets]]")
second = s.find("[[markets]]", first + 1)
s = s[: second if second > 0 else len(s)]
s = s.replace("max_open_orders = 200", "max_open_orders = 100000")
s = re.sub(r'recv_window = "[^"]*"', 'recv_window = "120s"', s)
s = s.replace("[server]\n", "[server]\nrate_limit_per_key = 0\nrate_limit_per_ip = 0\n", 1)
open(sys.argv[1], "w").write(s)
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results=()
run() { # form round
  local form=$1 port=18300 data="$work/data-$1-$2"
  PERPX_ADMIN_TOKEN=bench RUST_LOG=warn target/release/perpx --config "$work/markets.toml" \
    --data-dir "$data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/fapi/v1/ping" >/dev/null 2>&1 && break; sleep 0.1; done
  python3 "$here/presign.py" "http://127.0.0.1:$port" bench 64 60000 "$work/native.tsv" "$work/binance.tsv"
  local before; before=$(cpu_ticks "$server")
  wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$here/replay.lua" "http://127.0.0.1:$port" \
    -- "$work/$form.tsv" >"$work/wrk.out"
  local after; after=$(cpu_ticks "$server")
  kill -INT "$server"; wait "$server" || true; server=""
  local rps total refused p50 p99 max hz cpu
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  total=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  refused=$(awk '/Non-2xx/ {print $5}' "$work/wrk.out"); refused=${refused:-0}
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
  max=$(awk '/Latency/ && !/Distribution/ {print $4; exit}' "$work/wrk.out")
  hz=$(getconf CLK_TCK)
  cpu=$(python3 -c "print(round(($after - $before) / $hz / $total * 1e6, 1))")
  printf '%-8s round %s: %9s req/s  p50 %-8s p99 %-8s max %-8s refused %-6s server CPU %s us/request\n' \
    "$form" "$2" "$rps" "$p50" "$p99" "$max" "$refused" "$cpu"
  results+=("{\"form\":\"$form\",\"round\":$2,\"rps\":$rps,\"p50\":\"$p50\",\"p99\":\"$p99\",\"max\":\"$max\",\"refused\":$refused,\"cpu_us\":$cpu}")
}
echo "binance vs native order entry: wrk -t2 -c$conns -d${seconds}s, $rounds round(s), $(nproc) cores"
for r in $(seq 1 "$rounds"); do
  run native "$r"
  run binance "$r"
done
summary=$(printf '%s\n' "${results[@]}" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
mean = lambda f: sum(r["rps"] for r in rows if r["form"] == f) / sum(1 for r in rows if r["form"] == f)
n, b = mean("native"), mean("binance")
print(json.dumps({"runs": rows, "native_rps": round(n), "binance_rps": round(b), "ratio": round(b / n, 3)}))')
python3 -c "import json,sys; s=json.loads(sys.argv[1]); print(f\"mean: native {s['native_rps']} req/s, binance {s['binance_rps']} req/s, binance/native = {s['ratio']}\")" "$summary"
if [ -n "$json" ]; then echo "$summary" >"$json"; fi
