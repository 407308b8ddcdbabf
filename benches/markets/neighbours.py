#!/usr/bin/env python3
"""Orders/s on one market alone vs with idle neighbours: `benches/http/bench.py`'s relaxed
order run (wrk -t2 -c64, pre-signed orders on BTC-PERP) on a fresh server with BTC-PERP only,
then with N idle copies of it beside (nobody trades them), interleaved for R rounds, and the
ratio of the means (docs/OPERATIONS.md §11; target ≥ 0.95 with 499 neighbours).

  python3 benches/markets/neighbours.py [--idle 499] [--rounds 3] [--seconds 15]
"""
import argparse, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "http", "bench.py")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--idle", type=int, default=499)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--seconds", type=int, default=15)
args = ap.parse_args()

runs = {0: [], args.idle: []}
print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
for r in range(args.rounds):
    for n in (0, args.idle):
        out = tempfile.mktemp(suffix=".json")
        cmd = [sys.executable, BENCH, "--only", "relaxed, snapshot_every", "--seconds", str(args.seconds),
               "--idle-markets", str(n), "--json", out]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        res = json.load(open(out))["results"][0]
        os.unlink(out)
        runs[n].append(res["rps"])
        print(f"round {r + 1}: BTC-PERP with {n:>4} idle neighbours: {res['rps']:>9,.0f} orders/s "
              f"(p99 {res['p99_ms']} ms, server CPU {res['cpu_us_per_request']:.1f} µs/request)", flush=True)
mean = {n: sum(v) / len(v) for n, v in runs.items()}
print(f"load average after: {os.getloadavg()[0]:.2f}")
print(f"mean alone {mean[0]:,.0f} orders/s, with {args.idle} idle neighbours {mean[args.idle]:,.0f}: "
      f"ratio {mean[args.idle] / mean[0]:.3f} (target ≥ 0.95)")
