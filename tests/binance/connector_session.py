"""Binance's official Python connector (`binance-futures-connector`, unmodified, base URL
pointed here) against a running perpx: exchange info, orders, positions, margin type,
isolated margin and position mode (one-way, then hedge with a LONG and a SHORT side by side),
every value checked against the native API.

    python tests/binance/connector_session.py --url BASE --admin-token TOKEN
"""

import argparse
from decimal import Decimal

from binance.error import ClientError
from binance.um_futures import UMFutures

from perpx import Native, seed

CHECKS = 0


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError(what)


def same(got, want, what):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


def code_of(call):
    """The Binance error code `call` fails with (None when it succeeds)."""
    try:
        call()
    except ClientError as e:
        return e.error_code
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-token", required=True)
    args = ap.parse_args()
    native = Native(args.url, args.admin_token)
    seed(native)
    acct, creds = native.new_account("20000")
    c = UMFutures(key=creds["api_key"], secret=creds["api_secret"], base_url=args.url)

    # Exchange info and market data.
    info = c.exchange_info()
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    spec = native.public("/api/v1/markets/BTC-PERP")
    same(Decimal(btc["filters"][0]["tickSize"]), Decimal(spec["tick_size"]), "tickSize")
    check(c.ping() == {}, "ping")
    check(len(c.depth("BTCUSDT", limit=5)["bids"]) > 0, "depth has bids")

    # Position mode: one-way to start; asking for it again is -4059.
    same(c.get_position_mode(), {"dualSidePosition": False}, "position mode")
    same(code_of(lambda: c.change_position_mode(dualSidePosition="false")), -4059, "one-way again")

    # Margin type: isolated for BTCUSDT; again is -4046.
    same(c.change_margin_type("BTCUSDT", "ISOLATED"), {"code": 200, "msg": "success"}, "margin type")
    same(code_of(lambda: c.change_margin_type("BTCUSDT", "ISOLATED")), -4046, "no need to change")
    same(c.change_leverage("BTCUSDT", 10)["leverage"], 10, "leverage")

    # Orders: a resting limit, queried, listed, cancelled; a market buy opens the position.
    o = c.new_order("BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=40000, timeInForce="GTC")
    same(c.query_order("BTCUSDT", orderId=o["orderId"])["status"], "NEW", "query_order")
    same(c.get_open_orders("BTCUSDT", orderId=o["orderId"])["orderId"], o["orderId"], "open order")
    same([x["orderId"] for x in c.get_orders(symbol="BTCUSDT")], [o["orderId"]], "open orders")
    same(code_of(lambda: c.change_margin_type("BTCUSDT", "CROSSED")), -4047, "locked by an order")
    same(c.cancel_order("BTCUSDT", orderId=o["orderId"])["status"], "CANCELED", "cancel")
    m = c.new_order("BTCUSDT", "BUY", "MARKET", quantity=0.1)
    same(m["status"], "FILLED", "market buy")
    same(code_of(lambda: c.change_margin_type("BTCUSDT", "CROSSED")), -4048, "locked by a position")

    # Positions agree with the native account object.
    _, nat = acct.signed("GET", "/api/v1/account")
    pos = next(p for p in nat["positions"] if p["symbol"] == "BTC-PERP")
    risk = next(r for r in c.get_position_risk(symbol="BTCUSDT") if r["symbol"] == "BTCUSDT")
    same(Decimal(risk["positionAmt"]), Decimal("0.1"), "positionAmt")
    same(Decimal(risk["isolatedWallet"]), Decimal(pos["isolated_wallet"]), "isolatedWallet")
    same(Decimal(risk["entryPrice"]), Decimal(pos["entry_price"]), "entryPrice")
    same(Decimal(risk["liquidationPrice"]), Decimal(pos["liquidation_price"] or "0"), "liquidationPrice")
    a = c.account()
    same(Decimal(a["totalCrossWalletBalance"]), Decimal(nat["cross_wallet_balance"]), "cross wallet")
    same(Decimal(a["totalWalletBalance"]), Decimal(nat["wallet_balance"]), "wallet")

    # Isolated margin: add 25, reduce 5, history.
    iw = Decimal(risk["isolatedWallet"])
    same(c.modify_isolated_position_margin("BTCUSDT", amount=25, type=1)["code"], 200, "add margin")
    same(c.modify_isolated_position_margin("BTCUSDT", amount=5, type=2)["code"], 200, "reduce margin")
    risk = next(r for r in c.get_position_risk(symbol="BTCUSDT") if r["symbol"] == "BTCUSDT")
    same(Decimal(risk["isolatedWallet"]), iw + 20, "isolatedWallet after add/reduce")
    hist = c.get_position_margin_history("BTCUSDT")
    same([(h["type"], Decimal(h["amount"])) for h in hist], [(1, Decimal(25)), (2, Decimal(5))], "history")
    same(code_of(lambda: c.modify_isolated_position_margin("BTCUSDT", amount=1000000, type=2)), -4051, "reduce too much")

    # Trades and all orders; close the position: the isolated wallet returns.
    trades = c.get_account_trades("BTCUSDT")
    same(sum(Decimal(t["qty"]) for t in trades if t["buyer"]), Decimal("0.1"), "bought 0.1")
    check(any(x["orderId"] == m["orderId"] for x in c.get_all_orders("BTCUSDT")), "allOrders lists the fill")
    close = c.new_order("BTCUSDT", "SELL", "MARKET", quantity=0.1, reduceOnly="true")
    same(close["status"], "FILLED", "close")
    _, nat = acct.signed("GET", "/api/v1/account")
    same(nat["positions"], [], "flat")
    same(nat["wallet_balance"], nat["cross_wallet_balance"], "isolated wallet returned")
    same(c.change_margin_type("BTCUSDT", "CROSSED")["code"], 200, "back to cross")
    bal = next(b for b in c.balance() if b["asset"] == "USDT")
    same(Decimal(bal["balance"]), Decimal(nat["wallet_balance"]), "balance")

    # Hedge mode: a LONG and a SHORT side by side, each closed by its own leg.
    same(c.change_position_mode(dualSidePosition="true"), {"code": 200, "msg": "success"}, "hedge mode")
    same(c.get_position_mode(), {"dualSidePosition": True}, "position mode hedge")
    same(acct.signed("GET", "/api/v1/account")[1]["position_mode"], "hedge", "native position mode")
    same(code_of(lambda: c.change_position_mode(dualSidePosition="true")), -4059, "hedge again")
    same(code_of(lambda: c.new_order("BTCUSDT", "BUY", "MARKET", quantity=0.01)), -4061, "no positionSide")
    long = c.new_order("BTCUSDT", "BUY", "MARKET", quantity=0.02, positionSide="LONG")
    short = c.new_order("BTCUSDT", "SELL", "MARKET", quantity=0.01, positionSide="SHORT")
    same((long["positionSide"], long["status"]), ("LONG", "FILLED"), "long")
    same((short["positionSide"], short["status"]), ("SHORT", "FILLED"), "short")
    same(code_of(lambda: c.change_position_mode(dualSidePosition="false")), -4068, "locked by positions")
    _, nat = acct.signed("GET", "/api/v1/account")
    legs = {p["position_side"].upper(): p for p in nat["positions"] if p["symbol"] == "BTC-PERP"}
    risk = {r["positionSide"]: r for r in c.get_position_risk(symbol="BTCUSDT")}
    same(sorted(risk), ["LONG", "SHORT"], "positionRisk legs")
    for side in ("LONG", "SHORT"):
        same(Decimal(risk[side]["positionAmt"]), Decimal(legs[side]["quantity"]), f"{side} positionAmt")
        same(Decimal(risk[side]["entryPrice"]), Decimal(legs[side]["entry_price"]), f"{side} entryPrice")
    same(Decimal(risk["LONG"]["positionAmt"]), Decimal("0.02"), "LONG 0.02")
    same(Decimal(risk["SHORT"]["positionAmt"]), Decimal("-0.01"), "SHORT -0.01")
    trades = c.get_account_trades("BTCUSDT", orderId=short["orderId"])
    same([t["positionSide"] for t in trades], ["SHORT"] * len(trades), "trade positionSide")
    # Close: SELL + LONG and BUY + SHORT (reduce-only by their leg), then one-way again.
    close = c.new_order("BTCUSDT", "SELL", "MARKET", quantity=0.02, positionSide="LONG")
    same((close["reduceOnly"], close["status"]), (True, "FILLED"), "close long")
    c.new_order("BTCUSDT", "BUY", "MARKET", quantity=0.01, positionSide="SHORT")
    same(acct.signed("GET", "/api/v1/account")[1]["positions"], [], "flat again")
    same(c.change_position_mode(dualSidePosition="false"), {"code": 200, "msg": "success"}, "one-way")
    same(c.get_position_mode(), {"dualSidePosition": False}, "position mode one-way")
    print(f"binance-futures-connector session: {CHECKS} checks passed")


if __name__ == "__main__":
    main()
