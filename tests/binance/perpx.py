"""Small helpers shared by the Binance-dialect scripts: the native perpx API (admin and
signed account routes) with the standard library only, and a market seeder.

The native API is the reference the scripts check the Binance dialect against.
"""

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request


_ts_lock = threading.Lock()
_last_ts = 0


def next_ts():
    """Milliseconds now, strictly after the last timestamp this process signed with: the server
    accepts a write's signature once (docs/API.md §2.2), and two identical requests in one
    millisecond would otherwise sign alike."""
    global _last_ts
    with _ts_lock:
        _last_ts = max(int(time.time() * 1000), _last_ts + 1)
        return _last_ts


class Native:
    """The native API of one server: admin routes and one account's signed routes."""

    def __init__(self, base, admin_token, key=None, secret=None):
        self.base = base.rstrip("/")
        self.admin_token = admin_token
        self.key = key
        self.secret = secret

    def _call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def admin(self, method, path, body=None):
        return self._call(method, path, body, {"Authorization": "Bearer " + self.admin_token})

    def signed(self, method, path, body=None):
        ts = str(next_ts())
        raw = "" if body is None else json.dumps(body)
        sig = hmac.new(self.secret.encode(), (ts + method + path + raw).encode(), hashlib.sha256).hexdigest()
        headers = {"X-API-Key": self.key, "X-API-Timestamp": ts, "X-API-Signature": sig}
        data = None if body is None else raw.encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in headers.items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def public(self, path):
        return self._call("GET", path)[1]

    def new_account(self, deposit="100000"):
        status, a = self.admin("POST", "/api/v1/admin/accounts", {"label": "binance-ci"})
        assert status == 201, a
        status, d = self.admin("POST", f"/api/v1/admin/accounts/{a['account_id']}/deposits", {"amount": deposit})
        assert status == 200, d
        return Native(self.base, self.admin_token, a["api_key"], a["api_secret"]), a

    def order(self, symbol, **o):
        status, r = self.signed("POST", f"/api/v1/markets/{symbol}/orders", o)
        assert status in (200, 201), (status, r)
        return r


def seed(native, symbol="BTC-PERP", mid=50000, tick=0.1, trades=6):
    """Two accounts making a market around `mid` with a few trades between them (the taker
    ends long, so there is open interest); returns (maker, taker) as `Native` clients."""
    maker, _ = native.new_account("1000000")
    taker, _ = native.new_account("1000000")
    for i in range(1, 6):
        maker.order(symbol, side="buy", type="limit", quantity="0.5", price=f"{mid - i * 10 * tick:.1f}")
        maker.order(symbol, side="sell", type="limit", quantity="0.5", price=f"{mid + i * 10 * tick:.1f}")
    for i in range(trades):
        side = "buy" if i % 3 != 2 else "sell"
        taker.order(symbol, side=side, type="market", quantity="0.01")
    return maker, taker
