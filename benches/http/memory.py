#!/usr/bin/env python3
"""Memory per item: the release server's resident size (RSS) grown per resting order, per
retained closed order and per trade, measured over HTTP with wrk.

Each kind on a fresh server (relaxed durability, snapshots as shipped, one BTC-PERP market as in
bench.py, history limits raised so nothing is trimmed during the run), 64 funded accounts:
  resting   GTC limit orders that never cross (buys 48,000-49,999.9, sells 50,000.1-52,000)
  closed    IOC limit orders at the same prices: each is closed at once and kept in history
  trades    GTC limit orders at 50,000.0, both sides: every cross is one trade (two fills, the
            orders it closes, the income records)
wrk runs in steps, each sending orders of its own once (signed right before it, as in bench.py:
the server refuses a replayed signature); after each step the script waits for the server to
settle and reads the item count and the heap in use (`perpx_heap_bytes`, glibc's mallinfo2)
from /metrics, and the resident size from /proc. Bytes per item = (heap at the end − heap
before the first order) ÷ items at the end: amortized and all-in, so it includes the spare
capacity of the growing tables (a hash table or a deque doubles at a power of two, which is why
the heap grows in steps rather than smoothly) and up to 40 MiB of redb page caches filled by the
journal (under 60 bytes per item at these counts). A last reading 5 s after the load stops shows
whether memory keeps growing.

    python3 benches/http/memory.py               # about 3 minutes
    python3 benches/http/memory.py --steps 4 --seconds 5 --json mem.json

Everything the state holds is counted: the book, the order records, the margin holds, the
accounts' histories. The snapshotter keeps no copy between sets (it rebuilds each set from the
previous one and the journal, docs/ARCHITECTURE.md §5); readings are taken once the server is
idle again, after any set the load made due. RSS is higher and noisier than the heap: glibc
keeps some freed memory (HTTP buffers, a set's rebuild) for reuse.
"""

import argparse
import hashlib
import hmac
import importlib.util
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

HISTORY = ("keep_closed_orders = 100000\nkeep_fills = 100000\nkeep_income = 100000\n")


def log(msg):
    print(f"[memory] {msg}", file=sys.stderr, flush=True)


def sign_orders(kind, creds, orders, path_tsv, seed=7):
    """Write `orders` distinct pre-signed orders of `kind` for accounts `creds` (one
    timestamp, a repeated body stamped a few ms earlier: bench.Stamps; for trades, whose
    bodies are two per account, up to orders / 128 ms earlier); returns when (epoch seconds)
    the server starts refusing them."""
    rng = random.Random(seed)
    stamps = bench.Stamps(len(creds))
    macs = [hmac.new(secret.encode(), digestmod=hashlib.sha256).copy for _, secret in creds]
    stamped = {}  # k -> the timestamp of a k-th repeat
    ioc = ',"time_in_force":"ioc"' if kind == "closed" else ""
    n = len(creds)
    with open(path_tsv, "w") as f:
        write = f.write
        for i in range(orders):
            a = i % n
            side = rng.choice(["buy", "sell"])
            if kind == "trades":
                price = "50000.0"
            else:
                off = rng.randint(1, 20000) / 10
                price = f"{50000 - off if side == 'buy' else 50000 + off:.1f}"
            # json.dumps of {side, type, quantity, price[, time_in_force]}, separators (",", ":").
            body = f'{{"side":"{side}","type":"limit","quantity":"0.001","price":"{price}"{ioc}}}'
            seen = stamps.seen[a]
            k = seen.get(body, 0)
            seen[body] = k + 1
            ts = stamped.get(k) or stamped.setdefault(k, stamps.ts(k))
            mac = macs[a]()
            mac.update(f"{ts}POST{bench.ORDERS_PATH}{body}".encode())
            write(f"POST\t{bench.ORDERS_PATH}\tX-API-Key: {creds[a][0]}|X-API-Timestamp: {ts}"
                  f"|X-API-Signature: {mac.hexdigest()}|Content-Type: application/json\t{body}\n")
    return stamps.expires(bench.RECV_WINDOW_S)


def items(kind, metrics_text):
    """The count of the measured item from /metrics."""
    if kind == "resting":
        return bench.metric(metrics_text, "perpx_book_orders")
    if kind == "trades":
        return bench.metric(metrics_text, "perpx_trades_total")
    # Every IOC order that finds nothing to trade is expired at once (none rests): each is a
    # retained closed order.
    closed = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("perpx_orders_total{") and 'outcome="expired"' in line:
            closed += float(line.rsplit(" ", 1)[1])
    return closed


def settled_rss(server):
    """RSS once the server is idle again (any snapshot set the load made due is written)."""
    last = server.rss_mb()
    for _ in range(20):
        time.sleep(0.5)
        now = server.rss_mb()
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


def measure(kind, steps, seconds, workdir):
    log(f"{kind}: fresh server")
    saved = bench.config

    def config(durability, snapshot_every):
        return saved(durability, snapshot_every).replace("[server]\n", "[server]\n" + HISTORY, 1)

    bench.config = config
    try:
        s = bench.Server("relaxed", 100_000, workdir)
    finally:
        bench.config = saved
    try:
        tsv = os.path.join(s.dir, "requests.tsv")
        log(f"{kind}: 64 accounts")
        creds = bench.funded_accounts(s.base, 64, label="memory")
        time.sleep(1)
        heap0 = bench.metric(s.metrics(), "perpx_heap_bytes") / 2 ** 20
        rss0 = s.rss_mb()
        log(f"{kind}: before the first order: heap {heap0:.1f} MB, RSS {rss0:.1f} MB")
        points, exhausted = [], False
        orders = bench.orders_for(seconds)
        for step in range(1, steps + 1):
            # Each step sends requests of its own, signed right before it (a new timestamp).
            t0 = time.time()
            expires = sign_orders(kind, creds, orders, tsv, seed=6 + step)
            log(f"{kind}: step {step}/{steps}: {orders:,} orders signed in {time.time() - t0:.1f} s")
            bench.check_window(f"{kind}, step {step}", expires, seconds, orders)
            r = bench.wrk(s.base, tsv, 64, seconds)
            exhausted |= r["exhausted"]
            rss = settled_rss(s)
            text = s.metrics()
            n, heap = items(kind, text), bench.metric(text, "perpx_heap_bytes") / 2 ** 20
            points.append((n, rss, heap))
            log(f"{kind}: step {step}/{steps}: {n:,.0f} items, heap {heap:.1f} MB, RSS {rss:.1f} MB "
                f"({r['rps']:.0f} requests/s, {r['non_2xx']} refused"
                + (", EXHAUSTED: sent every pre-signed order)" if r["exhausted"] else ")"))
        os.remove(tsv)
        time.sleep(5)
        later = s.rss_mb()
        heap_later = bench.metric(s.metrics(), "perpx_heap_bytes") / 2 ** 20
        n1, r1, h1 = points[-1]
        per = (h1 - heap0) * 2 ** 20 / n1 if n1 else float("nan")
        per_rss = (r1 - rss0) * 2 ** 20 / n1 if n1 else float("nan")
        log(f"{kind}: {per:.0f} heap bytes per item ({per_rss:.0f} RSS); 5 s after the load: "
            f"heap {heap_later:.1f} MB, RSS {later:.1f} MB")
        return dict(kind=kind, points=points, bytes_per_item=per, rss_bytes_per_item=per_rss, exhausted=exhausted,
                    heap_end_mb=h1, heap_5s_later_mb=heap_later, rss_end_mb=r1,
                    rss_5s_later_mb=later, items=n1)
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3, help="wrk runs per kind (at least 2)")
    ap.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    ap.add_argument("--kind", action="append", choices=["resting", "closed", "trades"],
                    help="only this kind (repeatable)")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    bench.ensure_tools()
    import shutil
    import tempfile
    work = tempfile.mkdtemp(prefix="perpx-memory-")
    try:
        results = [measure(k, max(args.steps, 2), args.seconds, work)
                   for k in (args.kind or ["resting", "closed", "trades"])]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| item | items at the end | heap MB (5 s later) | RSS MB (5 s later) | heap bytes per item | RSS bytes per item |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['kind']} | {r['items']:,.0f} | {r['heap_end_mb']:.0f} ({r['heap_5s_later_mb']:.0f}) | "
              f"{r['rss_end_mb']:.0f} ({r['rss_5s_later_mb']:.0f}) | {r['bytes_per_item']:,.0f} | "
              f"{r['rss_bytes_per_item']:,.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
