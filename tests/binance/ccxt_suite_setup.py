"""Prepare ccxt's own test suite to run against a perpx server.

Copies the installed ccxt package to <scratch>/python/ccxt (its runner refuses to run from
site-packages), writes <scratch>/keys.local.json pointing every `urls.api` section of
binanceusdm at the server (with a funded key pair), and copies skip-tests.json next to it.

    python tests/binance/ccxt_suite_setup.py SCRATCH BASE_URL API_KEY API_SECRET
"""

import json
import os
import shutil
import sys

import ccxt

scratch, base, key, secret = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
target = os.path.join(scratch, "python", "ccxt")
if not os.path.isdir(target):
    shutil.copytree(os.path.dirname(ccxt.__file__), target)
api = {}
for section, url in ccxt.binanceusdm().urls["api"].items():
    # https://fapi.binance.com/fapi/v1 -> BASE/fapi/v1 (the path after the host is kept).
    api[section] = base.rstrip("/") + "/" + url.split("://", 1)[1].split("/", 1)[1]
keys = {
    "binanceusdm": {
        "apiKey": key,
        "secret": secret,
        "urls": {"api": api},
        "has": {"future": False},
    }
}
with open(os.path.join(scratch, "keys.local.json"), "w") as f:
    json.dump(keys, f, indent=2)
shutil.copy(os.path.join(here, "skip-tests.json"), os.path.join(scratch, "skip-tests.json"))
print(f"ccxt {ccxt.__version__} copied to {target}; keys.local.json points at {base}")
