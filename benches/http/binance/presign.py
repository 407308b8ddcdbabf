"""Create funded accounts on a fresh perpx and write pre-signed order requests for wrk: the
native form (`POST /api/v1/markets/BTC-PERP/orders`, JSON, X-API-* headers) and the Binance
form (`POST /fapi/v1/order`, form body, `signature` last), the same orders in both files.

    python presign.py BASE ADMIN_TOKEN ACCOUNTS ORDERS native.tsv binance.tsv

Random limit orders of 0.001-0.1 BTC priced mark +- 2.0, buys and sells (so about half
trade), signed once with one timestamp: the native window must be >= 120 s (set
`recv_window` in the server config), Binance requests carry recvWindow=60000 (its maximum).
"""

import hashlib
import hmac
import json
import random
import sys
import time
import urllib.parse
import urllib.request


def call(base, token, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    base, token, accounts, orders, native_out, binance_out = sys.argv[1:7]
    rng = random.Random(42)
    creds = []
    for _ in range(int(accounts)):
        a = call(base, token, "/api/v1/admin/accounts", {"label": "bench"})
        call(base, token, f"/api/v1/admin/accounts/{a['account_id']}/deposits", {"amount": "1000000000"})
        creds.append((a["api_key"], a["api_secret"]))
    ts = str(int(time.time() * 1000))
    path = "/api/v1/markets/BTC-PERP/orders"
    with open(native_out, "w") as nat, open(binance_out, "w") as bn:
        for i in range(int(orders)):
            key, secret = creds[i % len(creds)]
            side = rng.choice(["buy", "sell"])
            qty = f"{rng.randint(1, 100) / 1000:.3f}"
            price = f"{50000 + rng.randint(-20, 20) / 10:.1f}"
            body = json.dumps({"side": side, "type": "limit", "quantity": qty, "price": price},
                              separators=(",", ":"))
            sig = hmac.new(secret.encode(), (ts + "POST" + path + body).encode(), hashlib.sha256).hexdigest()
            headers = f"X-API-Key: {key}|X-API-Timestamp: {ts}|X-API-Signature: {sig}|Content-Type: application/json"
            nat.write(f"POST\t{path}\t{headers}\t{body}\n")
            params = urllib.parse.urlencode({
                "symbol": "BTCUSDT", "side": side.upper(), "type": "LIMIT", "timeInForce": "GTC",
                "quantity": qty, "price": price, "recvWindow": "60000", "timestamp": ts})
            sig = hmac.new(secret.encode(), params.encode(), hashlib.sha256).hexdigest()
            headers = f"X-MBX-APIKEY: {key}|Content-Type: application/x-www-form-urlencoded"
            bn.write(f"POST\t/fapi/v1/order\t{headers}\t{params}&signature={sig}\n")


if __name__ == "__main__":
    main()
