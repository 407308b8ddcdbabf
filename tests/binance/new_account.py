"""Seed a market on a fresh perpx server and open a funded account; prints `KEY SECRET`.

    python tests/binance/new_account.py BASE_URL ADMIN_TOKEN
"""

import sys

from perpx import Native, seed

native = Native(sys.argv[1], sys.argv[2])
seed(native)
_, creds = native.new_account("100000")
print(creds["api_key"], creds["api_secret"])
