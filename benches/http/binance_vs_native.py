#!/usr/bin/env python3
"""Binance-form order entry against native order entry, with the native order benchmark's
method and machinery (bench.py, replay.lua): each run on a fresh release server and data
directory (BTC-PERP as shipped, max_open_orders = 100000, rate limits off), 64 funded
accounts, random limit orders of 0.001-0.1 BTC priced mark +- 2.0, each signed request sent once
(bench.orders_for(seconds) of them, all distinct: see bench.py), wrk -t2 -c64, server and wrk on
the same machine.

The two forms carry the same orders (same seed):
  native   POST /api/v1/markets/BTC-PERP/orders   JSON body, X-API-* headers
  binance  POST /fapi/v1/order                    form body, X-MBX-APIKEY, signature last
They alternate (native, binance) for --rounds rounds per durability; the ratio is the mean
Binance requests/s over the mean native requests/s of the same script run.

  python3 benches/http/binance_vs_native.py [--seconds 20] [--rounds 2]
      [--durability relaxed immediate] [--json out.json]

Binance requests carry recvWindow=60000 (its maximum), so a run must end within a minute of
its signing (bench.check_window refuses a longer one): each run signs its own requests just
before wrk starts.
"""

import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the native benchmark: server, wrk, metrics, table)

ORDER_PATH = "/fapi/v1/order"


# bench.ORDER_BODIES' orders as Binance parameters (the same numbering), up to the timestamp;
# byte-identical to urllib.parse.urlencode of the same fields.
PARAMS = [f"symbol=BTCUSDT&side={s.upper()}&type=LIMIT&timeInForce=GTC&quantity={q}&price={p}"
          "&recvWindow=60000&timestamp=" for s in bench.SIDES for q in bench.QTY for p in bench.PRICE]


def presign_binance(base, accounts, orders, path_tsv, seed=42):
    """bench.presign's accounts and orders (the same draws, in the same order, so the same
    orders), in the Binance form, all distinct (bench.Stamps); returns when (epoch seconds) the
    server starts refusing them (recvWindow 60 s)."""
    rng = random.Random(seed)
    choice, randint = rng.choice, rng.randint
    creds = bench.funded_accounts(base, accounts)
    stamps = bench.Stamps(len(creds), len(PARAMS))
    macs = [hmac.new(secret.encode(), digestmod=hashlib.sha256).copy for _, secret in creds]
    heads = [f"POST\t{ORDER_PATH}\tX-MBX-APIKEY: {key}|Content-Type: application/x-www-form-urlencoded\t"
             for key, _ in creds]
    stamped = {}  # k -> the timestamp of a k-th repeat
    n, sides = len(creds), (0, 1)
    with open(path_tsv, "w") as f:
        write = f.write
        for i in range(orders):
            a = i % n
            b = (choice(sides) * 101 + randint(1, 100)) * 41 + randint(-20, 20) + 20
            seen = stamps.seen[a]
            k = seen[b]
            seen[b] = k + 1
            ts = stamped.get(k) or stamped.setdefault(k, stamps.ts(k))
            params = PARAMS[b] + ts
            mac = macs[a]()
            mac.update(params.encode())
            write(f"{heads[a]}{params}&signature={mac.hexdigest()}\n")
    return stamps.expires(60)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--durability", nargs="+", default=["relaxed", "immediate"],
                    choices=["relaxed", "immediate"])
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    bench.ensure_tools()
    work = tempfile.mkdtemp(prefix="perpx-binance-bench-")
    results, ratios = [], {}
    try:
        for d in args.durability:
            for r in range(1, args.rounds + 1):
                for form, sign in (("native", bench.presign), ("binance", presign_binance)):
                    res = bench.run(f"{form}, {d}, round {r}", d, 100_000, 64, args.seconds,
                                    work, 64, sign=sign)
                    res["form"] = form
                    results.append(res)
            mean = {f: sum(x["rps"] for x in results if x["form"] == f and x["durability"] == d)
                    / args.rounds for f in ("native", "binance")}
            ratios[d] = dict(native_rps=mean["native"], binance_rps=mean["binance"],
                             ratio=mean["binance"] / mean["native"] if mean["native"] else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bench.table(results)
    print()
    for d, m in ratios.items():
        print(f"{d}: native {m['native_rps']:,.0f} req/s, binance {m['binance_rps']:,.0f} req/s, "
              f"binance/native = {m['ratio']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": os.uname().nodename, "cores": os.cpu_count(),
                       "results": results, "ratios": ratios}, f, indent=2)
    bad = [x["name"] for x in results
           if x["requests"] == 0 or x["non_2xx"] > x["requests"] // 100 or x["exhausted"]]
    if bad:
        bench.log(f"runs with no requests, more than 1 % refused, or exhausted: {bad}")
        sys.exit(1)


if __name__ == "__main__":
    main()
