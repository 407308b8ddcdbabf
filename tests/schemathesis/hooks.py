"""Schemathesis hooks for perpx: sign every generated request that carries an API key.

perpx's private routes need `X-API-Key`, `X-API-Timestamp` and `X-API-Signature =
hex(HMAC-SHA256(secret, timestamp + METHOD + path_with_query + body))` over the exact bytes
sent. Schemathesis puts the key in the request (`-H X-API-Key:...`, so its auth checks can
remove or replace it); this hook signs the prepared request at the last moment, only when the
key is there, so requests without credentials stay unsigned and must be refused.

Environment: PERPX_SECRET (the key's secret).
"""

import hashlib
import hmac
import os
import time

import requests
import schemathesis

SECRET = os.environ["PERPX_SECRET"].encode()


_last_ts = 0


def next_ts():
    """The current time in ms, strictly after the last one used: the server accepts a write's
    signature once, and schemathesis sends identical requests within a millisecond."""
    global _last_ts
    _last_ts = max(int(time.time() * 1000), _last_ts + 1)
    return _last_ts


class Sign(requests.auth.AuthBase):
    def __call__(self, r):
        if "X-API-Key" not in r.headers:
            return r
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        ts = str(next_ts())
        msg = ts.encode() + r.method.encode() + r.path_url.encode() + body
        r.headers["X-API-Timestamp"] = ts
        r.headers["X-API-Signature"] = hmac.new(SECRET, msg, hashlib.sha256).hexdigest()
        return r


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = Sign()


# The codes a well-formed request may be refused with by a market's rules or an account's
# state (see schemathesis.toml): anything else answering a schema-valid request is a contract
# failure, in particular INVALID_REQUEST, which would mean the document allows what the server
# calls malformed.
RULE_CODES = {
    400: {"INVALID_PRICE", "INVALID_QUANTITY", "MIN_NOTIONAL", "PRICE_OUT_OF_BAND", "INVALID_LEVERAGE",
          "WOULD_TRIGGER_IMMEDIATELY", "INVALID_KEY", "INVALID_TPSL"},
    422: {"INSUFFICIENT_MARGIN", "INSUFFICIENT_BALANCE", "POST_ONLY_WOULD_TAKE", "REDUCE_ONLY_REJECTED",
          "POSITION_LIMIT_EXCEEDED", "ACCOUNT_IN_LIQUIDATION", "TOO_MANY_OPEN_ORDERS", "INDEX_STALE",
          "INSUFFICIENT_ISOLATED_MARGIN"},
    409: {"DUPLICATE_CLIENT_ORDER_ID", "ORDER_NOT_OPEN", "ORDER_NOT_AMENDABLE", "INDEX_NOT_PUSHABLE",
          "MARGIN_MODE_LOCKED", "NOT_ISOLATED", "NO_POSITION", "POSITION_SIDE_MISMATCH",
          "POSITION_MODE_LOCKED", "KEY_LIMIT"},
}

# The one INVALID_REQUEST that depends on the account's state, not on the request's shape: a
# hedge-mode account's order with `reduce_only: true` (docs/API.md §5.1; the position side says
# whether an order closes). Once a generated `PUT /account/position_mode` has switched the
# account to hedge, a schema-valid order may meet it.
HEDGE_REDUCE_ONLY = "reduce_only is not taken in hedge mode"


@schemathesis.check
def refusals_name_a_rule(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    codes = RULE_CODES.get(response.status_code)
    if codes is None:
        return None
    error = response.json().get("error", {})
    code = error.get("code")
    if response.status_code == 400 and code == "INVALID_REQUEST" and error.get("message", "").startswith(HEDGE_REDUCE_ONLY):
        return None
    if code not in codes:
        raise AssertionError(
            f"schema-valid request refused with {response.status_code} {code}, "
            f"not one of the market or account rules {sorted(codes)}"
        )
    return None
