"""Replay hummingbot's `binance_perpetual` connector calls against perpx (the connector
hard-codes Binance's hosts, so its requests are sent here by this script, in its forms: a
form body for POST/PUT, the query string for GET/DELETE, `timestamp` then `signature` last,
the key in X-MBX-APIKEY). Every field the connector reads is checked against the native API.
First in one-way mode, then in hedge mode as the connector runs with `position_mode: HEDGE`
(it sets the mode with `positionSide/dual` at start, names `positionSide` LONG / SHORT on every
order from its position action, and reads `ps` / `positionSide` back from the user stream,
`userTrades` and `positionRisk`).

    python tests/binance/hummingbot_replay.py --url http://127.0.0.1:8080 --admin-token TOKEN
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

import websockets

from perpx import Native, next_ts, seed

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def same(got, want, what):
    check(Decimal(str(got)) == Decimal(str(want)), f"{what}: {got!r} != native {want!r}")


class Connector:
    """Requests as hummingbot's BinancePerpetualAuth and web utils build them."""

    def __init__(self, base, key, secret):
        self.base, self.key, self.secret = base, key, secret

    def request(self, method, path, params=None, signed=False, key_only=False):
        params = dict(params or {})
        headers = {}
        if signed:
            # Strictly increasing, as the connector's clock is between its requests: the
            # server accepts a write's signature once (docs/BINANCE.md), and the immediate
            # second cancel below would otherwise repeat the first in the same millisecond.
            params["timestamp"] = next_ts()
            query = urllib.parse.urlencode(params)
            params["signature"] = hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        if signed or key_only:
            headers["X-MBX-APIKEY"] = self.key
        encoded = urllib.parse.urlencode(params)
        url, data = self.base + path, None
        if method in ("GET", "DELETE"):
            url += "?" + encoded if encoded else ""
        else:
            data = encoded.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def ok(self, *a, **k):
        status, body = self.request(*a, **k)
        check(status == 200, f"{a[0]} {a[1]}: {status} {body}")
        return body


async def ws_json(ws, pred, timeout=15):
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        check(left > 0, "websocket message within the bound")
        msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        if pred(msg):
            return msg


async def streams(c, native, acct, ws_base):
    # Public: depth diffs on public/stream, aggTrade and markPrice on market/stream (combined).
    async with websockets.connect(ws_base + "/public/stream") as pub, websockets.connect(ws_base + "/market/stream") as mkt:
        await pub.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}))
        await mkt.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@markPrice@1s"], "id": 2}))
        check((await ws_json(pub, lambda m: "id" in m))["result"] is None, "subscribe depth")
        check((await ws_json(mkt, lambda m: "id" in m))["result"] is None, "subscribe market")
        snapshot = c.ok("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000})
        o = acct.order("BTC-PERP", side="sell", type="limit", quantity="0.01", price="50009.0")
        diff = (await ws_json(pub, lambda m: m.get("stream") == "btcusdt@depth@100ms"))["data"]
        check(diff["u"] > snapshot["lastUpdateId"] and diff["pu"] == snapshot["lastUpdateId"], f"diff chains to the snapshot: {diff}")
        check(["50009.0", "0.01"] in diff["a"], f"the new level: {diff['a']}")
        # The stream's messages queued while the lines above ran are older than the native
        # read: take the next one until it is as new as the native mark (bounded; one mark per
        # second, so a few messages at most).
        for _ in range(8):
            mark = (await ws_json(mkt, lambda m: m.get("stream") == "btcusdt@markPrice@1s"))["data"]
            market = native.public("/api/v1/markets/BTC-PERP")
            if Decimal(mark["p"]) == Decimal(market["mark_price"]):
                break
        same(mark["p"], market["mark_price"], "markPrice p")
        same(mark["i"], market["index_price"], "markPrice i")
        acct.order("BTC-PERP", side="buy", type="market", quantity="0.01")
        agg = (await ws_json(mkt, lambda m: m.get("stream") == "btcusdt@aggTrade"))["data"]
        last = native.public("/api/v1/markets/BTC-PERP/trades?limit=1")[0]
        check(agg["a"] == last["trade_id"] and agg["p"] == last["price"] and agg["q"] == last["quantity"], f"aggTrade {agg} {last}")
        acct.signed("DELETE", f"/api/v1/markets/BTC-PERP/orders/{o['order_id']}")

    # Private: the user stream at private/ws?listenKey=.
    lk = c.ok("POST", "/fapi/v1/listenKey", key_only=True)["listenKey"]
    async with websockets.connect(f"{ws_base}/private/ws?listenKey={lk}") as user:
        # (perpx subscribes before it answers the upgrade: nothing to wait for)
        r = c.ok("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                            "quantity": "0.01", "newClientOrderId": "HMBot-replay-2"}, signed=True)
        ev = await ws_json(user, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE")
        check(ev["o"]["c"] == "HMBot-replay-2" and ev["o"]["i"] == r["orderId"], f"trade event {ev}")
        check(ev["o"]["X"] == "FILLED", f"status {ev['o']['X']}")
        au = await ws_json(user, lambda m: m.get("e") == "ACCOUNT_UPDATE")
        account = acct.signed("GET", "/api/v1/account")[1]
        same(au["a"]["B"][0]["wb"], account["wallet_balance"], "ACCOUNT_UPDATE wallet")
        pos = [p for p in account["positions"] if p["symbol"] == "BTC-PERP"][0]
        same(au["a"]["P"][0]["pa"], pos["quantity"], "ACCOUNT_UPDATE position")
    c.ok("PUT", "/fapi/v1/listenKey", {"listenKey": lk}, key_only=True)
    c.ok("DELETE", "/fapi/v1/listenKey", {"listenKey": lk}, key_only=True)


def position_action(trade_type, position_side):
    """OPEN or CLOSE, as the connector derives it from a fill's positionSide."""
    opening = (trade_type == "BUY" and position_side == "LONG") or (trade_type == "SELL" and position_side == "SHORT")
    return "OPEN" if opening else "CLOSE"


def hedge_position_side(trade_type, action):
    """The positionSide the connector sends in hedge mode."""
    if action == "OPEN":
        return "LONG" if trade_type == "BUY" else "SHORT"
    return "SHORT" if trade_type == "BUY" else "LONG"


async def hedge(base, native):
    """The connector with `position_mode: HEDGE` on a fresh account."""
    acct, creds = native.new_account("100000")
    c = Connector(base, creds["api_key"], creds["api_secret"])
    ws_base = base.replace("http", "ws", 1)
    # Start-up: _get_position_mode, then _trading_pair_position_mode_set (a Python bool in the
    # form body: "True"), which expects exactly code 200 and msg "success".
    check(c.ok("GET", "/fapi/v1/positionSide/dual", signed=True) == {"dualSidePosition": False}, "one-way at first")
    r = c.ok("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": True}, signed=True)
    check(r["msg"] == "success" and r["code"] == 200, f"set hedge mode: {r}")
    check(c.ok("GET", "/fapi/v1/positionSide/dual", signed=True) == {"dualSidePosition": True}, "hedge mode")
    check(acct.signed("GET", "/api/v1/account")[1]["position_mode"] == "hedge", "native position mode")
    c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 5}, signed=True)

    def place(trade_type, action, qty, cid, price=None):
        p = {"symbol": "BTCUSDT", "side": trade_type, "quantity": qty, "type": "LIMIT" if price else "MARKET",
             "newClientOrderId": cid, "positionSide": hedge_position_side(trade_type, action)}
        if price:
            p.update(price=price, timeInForce="GTC")
        return c.ok("POST", "/fapi/v1/order", p, signed=True)

    lk = c.ok("POST", "/fapi/v1/listenKey", key_only=True)["listenKey"]
    async with websockets.connect(f"{ws_base}/private/ws?listenKey={lk}") as user:
        legs = {}  # the connector's positions, kept from ACCOUNT_UPDATE: {ps: pa}

        async def fill(cid, ps):
            ev = await ws_json(user, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["c"] == cid and m["o"]["x"] == "TRADE")
            check(ev["o"]["ps"] == ps, f"ps of {cid}: {ev['o']}")
            au = await ws_json(user, lambda m: m.get("e") == "ACCOUNT_UPDATE")
            for p in au["a"]["P"]:
                check(p["ps"] in ("LONG", "SHORT"), f"ACCOUNT_UPDATE ps {p}")
                legs[p["ps"]] = Decimal(p["pa"])
            return ev

        o = place("BUY", "OPEN", "0.03", "HMBot-hedge-1")
        check(o["positionSide"] == "LONG" and o["status"] == "FILLED" and o["updateTime"] > 0, f"open long {o}")
        await fill("HMBot-hedge-1", "LONG")
        o = place("SELL", "OPEN", "0.02", "HMBot-hedge-2")
        check(o["positionSide"] == "SHORT" and o["status"] == "FILLED", f"open short {o}")
        await fill("HMBot-hedge-2", "SHORT")
        check(legs == {"LONG": Decimal("0.03"), "SHORT": Decimal("-0.02")}, f"positions from ACCOUNT_UPDATE {legs}")
        # A resting close of the LONG: tracked by client order id, then cancelled.
        o = place("SELL", "CLOSE", "0.01", "HMBot-hedge-3", price="60000.0")
        q = c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "HMBot-hedge-3"}, signed=True)
        check(q["status"] == "NEW" and q["positionSide"] == "LONG" and q["reduceOnly"] is True, f"resting close {q}")
        d = c.ok("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "HMBot-hedge-3"}, signed=True)
        check(d["status"] == "CANCELED" and d["positionSide"] == "LONG", f"cancel {d}")
        o = place("SELL", "CLOSE", "0.01", "HMBot-hedge-4")
        check(o["positionSide"] == "LONG" and o["status"] == "FILLED", f"close long {o}")
        await fill("HMBot-hedge-4", "LONG")
        check(legs == {"LONG": Decimal("0.02"), "SHORT": Decimal("-0.02")}, f"after closing 0.01 {legs}")

    # _update_positions: positionRisk v2, one row per leg, kept when the amount is not 0.
    account = acct.signed("GET", "/api/v1/account")[1]
    native_legs = {p["position_side"].upper(): p for p in account["positions"] if p["symbol"] == "BTC-PERP"}
    risk = [p for p in c.ok("GET", "/fapi/v2/positionRisk", signed=True) if p["symbol"] == "BTCUSDT"]
    check(sorted(p["positionSide"] for p in risk) == ["LONG", "SHORT"], f"positionRisk legs {risk}")
    for p in risk:
        n = native_legs[p["positionSide"]]
        same(p["positionAmt"], n["quantity"], f"{p['positionSide']} positionAmt")
        same(p["entryPrice"], n["entry_price"], f"{p['positionSide']} entryPrice")
        same(p["unRealizedProfit"], n["unrealized_pnl"], f"{p['positionSide']} unRealizedProfit")
        same(p["positionAmt"], legs[p["positionSide"]], f"{p['positionSide']} as ACCOUNT_UPDATE left it")
        check(p["leverage"] == "5", f"leverage {p}")
    # _update_order_fills_from_trades: each fill's position action from its positionSide.
    trades = c.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, signed=True)
    actions = [(t["side"], t["positionSide"], position_action(t["side"], t["positionSide"])) for t in trades]
    check(actions == [("BUY", "LONG", "OPEN"), ("SELL", "SHORT", "OPEN"), ("SELL", "LONG", "CLOSE")], f"fills {actions}")
    fills = {f["trade_id"]: f for f in acct.signed("GET", "/api/v1/account/fills?limit=100")[1]}
    for t in trades:
        check(fills[t["id"]]["position_side"] == t["positionSide"].lower(), f"native fill leg {t}")
    # Position mode changes only when flat: refused now (-4068), accepted after closing.
    status, r = c.request("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": False}, signed=True)
    check((status, r["code"]) == (400, -4068), f"one-way with positions: {r}")
    place("SELL", "CLOSE", "0.02", "HMBot-hedge-5")
    place("BUY", "CLOSE", "0.02", "HMBot-hedge-6")
    check(acct.signed("GET", "/api/v1/account")[1]["positions"] == [], "flat")
    r = c.ok("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": False}, signed=True)
    check(r["msg"] == "success" and r["code"] == 200, f"back to one-way: {r}")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--url", required=True)
    a.add_argument("--admin-token", required=True)
    args = a.parse_args()
    native = Native(args.url, args.admin_token)
    seed(native)
    acct, creds = native.new_account("100000")
    c = Connector(args.url, creds["api_key"], creds["api_secret"])

    # Start-up: exchange info, connectivity, server time, position mode, leverage.
    info = c.ok("GET", "/fapi/v1/exchangeInfo")
    spec = native.public("/api/v1/markets/BTC-PERP")
    s = [x for x in info["symbols"] if x["symbol"] == "BTCUSDT"][0]
    check(s["status"] == "TRADING" and s["contractType"] == "PERPETUAL", "symbol status")
    f = {x["filterType"]: x for x in s["filters"]}
    same(f["PRICE_FILTER"]["tickSize"], spec["tick_size"], "tickSize")
    same(f["LOT_SIZE"]["stepSize"], spec["lot_size"], "stepSize")
    same(f["LOT_SIZE"]["minQty"], spec["min_quantity"], "minQty")
    same(f["MIN_NOTIONAL"]["notional"], spec["min_notional"], "notional")
    check(c.ok("GET", "/fapi/v1/ping") == {}, "ping")
    check(abs(c.ok("GET", "/fapi/v1/time")["serverTime"] - time.time() * 1e3) < 5000, "server time")
    check(c.ok("GET", "/fapi/v1/positionSide/dual", signed=True) == {"dualSidePosition": False}, "one-way mode")
    status, r = c.request("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"}, signed=True)
    check((status, r["code"]) == (400, -4059), f"no need to change position side: {r}")
    lev = c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 5}, signed=True)
    check(lev["leverage"] == 5 and lev["symbol"] == "BTCUSDT", f"leverage {lev}")

    # Market data: order book, 24 h ticker, funding info.
    depth = c.ok("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000})
    book = native.public("/api/v1/markets/BTC-PERP/book?depth=1000")
    check(depth["lastUpdateId"] == book["sequence"] and depth["bids"] == book["bids"] and depth["asks"] == book["asks"], "depth")
    t = c.ok("GET", "/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"})
    market = native.public("/api/v1/markets/BTC-PERP")
    same(t["lastPrice"], market["last_price"], "lastPrice")
    same(t["volume"], market["volume_24h"], "volume")
    pi = c.ok("GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"})
    same(pi["markPrice"], market["mark_price"], "premiumIndex markPrice")
    same(pi["indexPrice"], market["index_price"], "premiumIndex indexPrice")
    same(pi["lastFundingRate"], market["funding_rate"] or "0", "lastFundingRate")
    check(pi["nextFundingTime"] == (market["next_funding_time"] or 0), "nextFundingTime")

    # Orders by client order id (the connector tracks orders by it).
    place = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.02", "price": "49500.0", "newClientOrderId": "HMBot-replay-1"}
    o = c.ok("POST", "/fapi/v1/order", place, signed=True)
    n = acct.signed("GET", "/api/v1/markets/BTC-PERP/orders/by-client-id/HMBot-replay-1")[1]
    check(o["orderId"] == n["order_id"] and o["status"] == "NEW" and n["status"] == "new", f"placed {o}")
    same(o["price"], n["price"], "order price")
    q = c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "HMBot-replay-1"}, signed=True)
    check(q["orderId"] == o["orderId"] and q["updateTime"] == n["updated_at"], "order status")
    d = c.ok("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "HMBot-replay-1"}, signed=True)
    check(d["status"] == "CANCELED", f"cancel {d}")
    status, e = c.request("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "HMBot-replay-1"}, signed=True)
    check((status, e["code"], e["msg"]) == (400, -2011, "Unknown order sent."), f"second cancel {e}")
    status, e = c.request("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "HMBot-none"}, signed=True)
    check((status, e["code"], e["msg"]) == (400, -2013, "Order does not exist."), f"unknown order {e}")
    m = c.ok("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                        "quantity": "0.03", "newClientOrderId": "HMBot-replay-3"}, signed=True)
    check(m["status"] == "FILLED", f"market {m}")

    # Trades, funding payments, balances and positions.
    fills = acct.signed("GET", "/api/v1/account/fills?limit=100")[1]
    trades = c.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, signed=True)
    check(sorted(t["id"] for t in trades) == sorted(f["trade_id"] for f in fills), "userTrades ids")
    for t in trades:
        f = [x for x in fills if x["trade_id"] == t["id"]][0]
        same(t["commission"], f["fee"], "commission")
        same(t["qty"], f["quantity"], "qty")
        check(t["commissionAsset"] == "USDT", "commission asset")
    income = c.ok("GET", "/fapi/v1/income", {"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE"}, signed=True)
    check(isinstance(income, list) and all(i["incomeType"] == "FUNDING_FEE" for i in income), f"income {income}")
    account = acct.signed("GET", "/api/v1/account")[1]
    v2 = c.ok("GET", "/fapi/v2/account", signed=True)
    usdt = [x for x in v2["assets"] if x["asset"] == "USDT"][0]
    same(usdt["walletBalance"], account["wallet_balance"], "walletBalance")
    same(usdt["availableBalance"], account["available_balance"], "availableBalance")
    risk = c.ok("GET", "/fapi/v2/positionRisk", signed=True)
    p = [x for x in risk if x["symbol"] == "BTCUSDT"][0]
    np = [x for x in account["positions"] if x["symbol"] == "BTC-PERP"][0]
    same(p["positionAmt"], np["quantity"], "positionAmt")
    same(p["entryPrice"], np["entry_price"], "entryPrice")
    same(p["unRealizedProfit"], np["unrealized_pnl"], "unRealizedProfit")
    check(p["leverage"] == "5" and p["positionSide"] == "BOTH", f"leverage {p}")

    ws_base = args.url.replace("http", "ws", 1)
    asyncio.run(streams(c, native, acct, ws_base))
    one_way = checks
    asyncio.run(hedge(args.url, native))
    print(f"hummingbot binance_perpetual call set: {one_way} checks passed (one-way), {checks - one_way} (hedge mode)")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"hummingbot replay FAILED: {e}", file=sys.stderr)
        sys.exit(1)
