"""Follow BTC-PERP's book and trades, and one account's private updates, for a few seconds.

    pip install websockets
    python3 examples/ws_client.py --key KEY --secret SECRET --seconds 5
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import time

import websockets


async def main(url, key, secret, seconds):
    async with websockets.connect(url) as ws:
        for channel in ("book", "trades"):
            await ws.send(json.dumps({"op": "subscribe", "channel": channel, "symbol": "BTC-PERP"}))
        if key:
            ts = int(time.time() * 1000)
            sig = hmac.new(secret.encode(), f"{ts}GET/ws".encode(), hashlib.sha256).hexdigest()
            await ws.send(json.dumps({"op": "auth", "api_key": key, "timestamp": ts, "signature": sig}))
            for channel in ("orders", "fills", "account"):
                await ws.send(json.dumps({"op": "subscribe", "channel": channel}))
        seen = {}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            seen[msg["type"]] = seen.get(msg["type"], 0) + 1
            if msg["type"] in ("book_snapshot", "authenticated", "error"):
                print(json.dumps(msg)[:200])
        print("messages by type:", json.dumps(seen, sort_keys=True))
        assert "book_snapshot" in seen, "no book snapshot received"
        assert seen.get("error", 0) == 0, "the server answered with an error"


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="ws://127.0.0.1:8080/ws")
    p.add_argument("--key", default="")
    p.add_argument("--secret", default="")
    p.add_argument("--seconds", type=float, default=5)
    a = p.parse_args()
    asyncio.run(main(a.url, a.key, a.secret, a.seconds))
