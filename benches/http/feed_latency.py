#!/usr/bin/env python3
"""Market-data latency of one order, end to end (docs/OPERATIONS.md §7): against a running
server, a WebSocket client subscribes to a market's `trades` and `book`; then, N times, a
maker rests an order and a taker takes it, and the script times, at microsecond resolution on
one clock, from the taker's submit (and from its HTTP acknowledgement) to the arrival of its
trade and of its book update. Run it beside a background load (e.g. `loadgen --markets
BTC-PERP`) on another market, so the journal's group commits are shared.

    python3 benches/http/feed_latency.py --url http://127.0.0.1:18080 --admin-token T \
        --symbol ETH-PERP --price 3000.00 --quantity 0.010 --probes 400
"""

import argparse
import hashlib
import hmac
import json
import queue
import statistics
import threading
import time
import urllib.request

import websocket  # websocket-client

from bench import next_ts  # the same directory



def call(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def admin(base, token, path, body):
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return call(base, "POST", path, body, h)


def account(base, token):
    a = admin(base, token, "/api/v1/admin/accounts", {"label": "probe"})
    admin(base, token, f"/api/v1/admin/accounts/{a['account_id']}/deposits", {"amount": "10000000"})
    return a["api_key"], a["api_secret"]


def order(base, creds, symbol, side, price, qty):
    key, secret = creds
    path = f"/api/v1/markets/{symbol}/orders"
    body = json.dumps({"side": side, "type": "limit", "quantity": qty, "price": price},
                      separators=(",", ":"))
    ts = str(next_ts())
    sig = hmac.new(secret.encode(), (ts + "POST" + path + body).encode(), hashlib.sha256).hexdigest()
    h = {"X-API-Key": key, "X-API-Timestamp": ts, "X-API-Signature": sig,
         "Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=body.encode(), method="POST", headers=h)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def reader(ws, out):
    while True:
        try:
            text = ws.recv()
        except Exception:
            return
        out.put((time.perf_counter_ns(), json.loads(text)))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--admin-token", required=True)
    p.add_argument("--symbol", default="ETH-PERP")
    p.add_argument("--price", default="3000.00")
    p.add_argument("--quantity", default="0.010")
    p.add_argument("--probes", type=int, default=400)
    p.add_argument("--json")
    a = p.parse_args()
    maker, taker = account(a.url, a.admin_token), account(a.url, a.admin_token)
    ws = websocket.create_connection(a.url.replace("http", "ws", 1) + "/ws")
    for ch in ("trades", "book"):
        ws.send(json.dumps({"op": "subscribe", "channel": ch, "symbol": a.symbol}))
    msgs = queue.Queue()
    threading.Thread(target=reader, args=(ws, msgs), daemon=True).start()
    trade_us, book_us, ack_trade_us = [], [], []
    for i in range(a.probes):
        sides = ("sell", "buy") if i % 2 == 0 else ("buy", "sell")
        order(a.url, maker, a.symbol, sides[0], a.price, a.quantity)
        # The maker's own book update first: only the taker's events are timed.
        while msgs.get(timeout=5)[1].get("type") != "book_update":
            pass
        t0 = time.perf_counter_ns()
        r = order(a.url, taker, a.symbol, sides[1], a.price, a.quantity)
        t_ack = time.perf_counter_ns()
        trade_id = r["fills"][0]["trade_id"]
        got_trade = got_book = None
        deadline = time.time() + 5
        while got_trade is None or got_book is None:
            t, m = msgs.get(timeout=max(0.0, deadline - time.time()))
            if m.get("type") == "trade" and m.get("trade_id") == trade_id:
                got_trade = t
            elif m.get("type") == "book_update" and got_book is None:
                got_book = t
        trade_us.append((got_trade - t0) / 1000)
        book_us.append((got_book - t0) / 1000)
        ack_trade_us.append((got_trade - t_ack) / 1000)
    res = {name: {"p50": pct(xs, 0.5), "p99": pct(xs, 0.99), "mean": statistics.fmean(xs)}
           for name, xs in (("submit_to_trade_us", trade_us), ("submit_to_book_us", book_us),
                            ("ack_to_trade_us", ack_trade_us))}
    for k, v in res.items():
        print(f"{k:20} p50 {v['p50']:8.0f}  p99 {v['p99']:8.0f}  mean {v['mean']:8.0f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
