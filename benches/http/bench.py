#!/usr/bin/env python3
"""The HTTP order benchmark: the release server and wrk on the same machine.

What it measures (each run on a fresh server and data directory, one BTC-PERP market as
shipped but max_open_orders = 100000, rate limits off, recv_window 120 s):
  wrk sends pre-signed order requests (64 funded accounts, random limit orders of 0.001-0.1
  BTC priced mark +- 2.0), -t2 -c64, for relaxed and immediate durability with snapshots as
  shipped and off, one connection, and the HTTP floor (GET /health, GET /book?depth=20).
  Reported per run: requests/s, latency p50/p99/max (wrk), server CPU per request
  (utime+stime of the server from /proc over the run, divided by the requests answered), RSS
  at the end (and 5 s later), journal commits (p99 of perpx_journal_commit_seconds) and the
  mean number of requests per commit.

Every signed request is sent once (the server refuses a signature it has already seen inside
recv_window): right before each run, presign signs more orders than the run can send,
ORDERS_PER_SECOND (80,000) per second of run plus ORDERS_MARGIN, all distinct (one timestamp
per file; an account's repeated body is stamped a few ms earlier, see Stamps; about 3.5 µs an
order: 4-4.5 s for a 15 s run on 2 cores), and replay.lua gives each wrk thread a disjoint
share of them, sent in order, loaded before wrk's clock starts (about 4 µs an order). A run
that sends them all (replay.lua then sends GET /health) is reported `exhausted` and fails the
benchmark. A run must end inside recv_window of its signing (check_window). The unsigned GET
requests are repeated.

  python3 benches/http/bench.py                 # the full table, about 4 minutes
  python3 benches/http/bench.py --smoke         # a 5-second check (CI)
  python3 benches/http/bench.py --json out.json # also write the results as JSON
  python3 benches/http/bench.py --only "immediate, snap"   # only the runs named so
  python3 benches/http/bench.py --idle-markets 499          # with 499 idle markets beside BTC-PERP
  python3 benches/http/bench.py --replication   # immediate without / with replication vs
                                                # replicated on a 3-server NATS cluster (nats-server
                                                # on the PATH), 64 conns in 2 interleaved rounds, then
                                                # 1 conn; stream entries/s, lag, catch-up time

Needs wrk (installed from Debian's package if missing) and target/release/perpx (built if
missing: `cargo build --release --bins`), or the binary named by $PERPX_BIN.
"""

import argparse
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# PERPX_BIN: another build to measure (e.g. a copy of the previous commit's, for interleaved
# before/after runs in one sitting).
BIN = os.environ.get("PERPX_BIN") or os.path.join(ROOT, "target", "release", "perpx")
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "replay.lua")
TOKEN = "bench-admin-token"
ORDERS_PATH = "/api/v1/markets/BTC-PERP/orders"
TICK = os.sysconf("SC_CLK_TCK")
# The servers' recv_window (config()): a signed request is accepted within this many seconds of
# its timestamp, and only once (a replayed signature is refused), so each run signs its own.
RECV_WINDOW_S = 120
# Order requests pre-signed per second of a wrk run: a generous bound on the rate (on 2 cores,
# 64 connections send about 35,000/s with immediate durability and 51,000/s with relaxed), so
# that no run sends every line of its file; a run that does is reported `exhausted`.
ORDERS_PER_SECOND = 80_000
# Pre-signed on top: the threads' shares are equal but their rates need not be, and wrk takes
# one request of the first thread only to inspect it.
ORDERS_MARGIN = 20_000
# Allowed per pre-signed line for wrk to load it (replay.lua: about 4 µs on 2 idle cores,
# generously): a run's requests must stay inside their window while wrk loads and sends them.
WRK_LOAD_US_PER_LINE = 10
# With --replication: the [replication] section every server gets (docs/REPLICATION.md), and
# the nats-server processes (their CPU is reported beside the server's).
REPLICATION = ""
NATS_PROCS = []
# --idle-markets N: N copies of BTC-PERP (B0-PERP ...) beside it that nobody trades.
IDLE_MARKETS = 0



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


def log(msg):
    print(f"[http-bench] {msg}", file=sys.stderr, flush=True)


def ensure_tools():
    if shutil.which("wrk") is None:
        log("installing wrk from Debian's package")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if not os.access(BIN, os.X_OK):
        log("building the release binary (cargo build --release --bins)")
        subprocess.run(["cargo", "build", "--release", "--bins"], cwd=ROOT, check=True)


def config(durability, snapshot_every):
    """The shipped markets.toml reduced to BTC-PERP, with the benchmark's settings."""
    text = open(os.path.join(ROOT, "markets.toml")).read()
    server = (f'[server]\ndurability = "{durability}"\nsnapshot_every = {snapshot_every}\n'
              f'recv_window = "{RECV_WINDOW_S}s"\nrate_limit_per_key = 0\nrate_limit_per_ip = 0\n'
              'binance_weight_per_minute = 0\nbinance_orders_per_10s = 0\nbinance_orders_per_minute = 0\n')
    exchange = text[text.index("[exchange]"):text.index("[[markets]]")]
    markets = text.split("[[markets]]")
    btc = "[[markets]]" + next(m for m in markets if 'symbol = "BTC-PERP"' in m)
    btc = re.sub(r"max_open_orders = \d+", "max_open_orders = 100000", btc)
    if "max_open_orders" not in btc:
        btc = btc.replace('base_asset = "BTC"\n', 'base_asset = "BTC"\nmax_open_orders = 100000\n')
    idle = "".join(re.sub(r'base_asset = "BTC"', f'base_asset = "B{i}"',
                          btc.replace('symbol = "BTC-PERP"', f'symbol = "B{i}-PERP"'))
                   for i in range(IDLE_MARKETS))
    return server + "\n" + exchange + btc + idle + REPLICATION


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nats_cluster(workdir):
    """Three clustered JetStream servers on loopback (sync_interval: always); returns
    (processes, comma-separated client URLs)."""
    ports = [(free_port(), free_port()) for _ in range(3)]
    routes = ", ".join(f'"nats-route://127.0.0.1:{r}"' for _, r in ports)
    procs = []
    for i, (port, route) in enumerate(ports):
        conf = os.path.join(workdir, f"n{i}.conf")
        with open(conf, "w") as f:
            f.write(f"server_name: n{i}\nhost: 127.0.0.1\nport: {port}\n"
                    f"jetstream {{ store_dir: \"{workdir}/n{i}\", sync_interval: always }}\n"
                    f"cluster {{ name: bench, host: 127.0.0.1, port: {route}, routes: [{routes}] }}\n")
        procs.append(subprocess.Popen(["nats-server", "-c", conf], stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(workdir, f"n{i}.log"), "w")))
    for port, _ in ports:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("nats-server did not start")
                time.sleep(0.05)
    return procs, ",".join(f"nats://127.0.0.1:{p}" for p, _ in ports)


def write_json(path, results, **extra):
    """The results as JSON with the machine they were measured on (cores, load average)."""
    with open(path, "w") as f:
        json.dump({"machine": os.uname().nodename, "cores": os.cpu_count(), "loadavg": os.getloadavg(),
                   **extra, "results": results}, f, indent=2)
    log(f"wrote {path}")


def call(base, method, path, body=None, token=TOKEN):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()


class Server:
    def __init__(self, durability, snapshot_every, workdir, reuse=None):
        self.dir = reuse or tempfile.mkdtemp(dir=workdir)
        cfg = os.path.join(self.dir, "markets.toml")
        with open(cfg, "w") as f:
            f.write(config(durability, snapshot_every))
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PERPX_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [BIN, "--config", cfg, "--data-dir", os.path.join(self.dir, "data"),
             "--listen", f"127.0.0.1:{port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        deadline = time.time() + 60
        while True:
            try:
                call(self.base, "GET", "/api/v1/health")
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("server did not start: " + open(os.path.join(self.dir, "log")).read())
                time.sleep(0.05)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def metrics(self):
        return call(self.base, "GET", "/metrics")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def funded_accounts(base, n, label="bench"):
    """Open `n` accounts with 1,000,000,000 USDT each; their (api_key, api_secret)."""
    creds = []
    for _ in range(n):
        a = call(base, "POST", "/api/v1/admin/accounts", {"label": label})
        call(base, "POST", f"/api/v1/admin/accounts/{a['account_id']}/deposits", {"amount": "1000000000"})
        creds.append((a["api_key"], a["api_secret"]))
    return creds


class Stamps:
    """The timestamps of one file of pre-signed requests. Every request must be distinct (the
    server refuses a signature it has seen inside recv_window), but an account's bodies repeat:
    they are drawn from a few thousand (e.g. 2 sides x 100 quantities x 41 prices), so an account
    repeats one after a few hundred of its orders. The file has one timestamp (`ms`, taken when
    signing starts), except that the k-th repeat of an account's body is stamped k ms earlier,
    which changes its signature; k stays small (10 for 1.2 million orders on 64 accounts)."""

    def __init__(self, accounts, bodies=None):
        self.ms = int(time.time() * 1000)
        # Per account: body -> requests so far with it (a list indexed by body number when the
        # bodies are numbered 0..bodies-1, else a dict keyed by body). Signers inline the count:
        # k = seen[body]; seen[body] = k + 1 (or seen.get(body, 0)).
        self.seen = [[0] * bodies if bodies else {} for _ in range(accounts)]
        self.back = 0  # the largest k stamped

    def ts(self, k):
        """The timestamp (ms, as text) of a k-th repeat."""
        self.back = max(self.back, k)
        return str(self.ms - k)

    def expires(self, window_s):
        """When (epoch seconds) the file's oldest timestamp leaves a window of `window_s`."""
        return (self.ms - self.back) / 1000 + window_s


# presign's order bodies, numbered: body (s * 101 + q) * 41 + p is side SIDES[s], quantity q / 1000
# (q = 1..100) and price 50000 + (p - 20) / 10 (p = 0..40), byte-identical to
# json.dumps({"side", "type": "limit", "quantity", "price"}, separators=(",", ":")).
SIDES = ["buy", "sell"]
QTY = [f"{q / 1000:.3f}" for q in range(101)]
PRICE = [f"{50000 + d / 10:.1f}" for d in range(-20, 21)]
ORDER_BODIES = [f'{{"side":"{s}","type":"limit","quantity":"{q}","price":"{p}"}}'
                for s in SIDES for q in QTY for p in PRICE]


def orders_for(seconds):
    """Orders to pre-sign for a wrk run of `seconds`: more than it can send."""
    return ORDERS_PER_SECOND * seconds + ORDERS_MARGIN


def presign(base, accounts, orders, path_tsv, seed=42):
    """Create funded accounts and write `orders` distinct pre-signed limit orders (one
    timestamp, see Stamps); returns when (epoch seconds) the server starts refusing them."""
    return sign_orders(funded_accounts(base, accounts), orders, path_tsv, seed)


def sign_orders(creds, orders, path_tsv, seed=42):
    """presign's file for accounts `creds` [(api_key, api_secret)], the orders spread over them
    in turn. Its draws per order (side, quantity, price: rng.choice of the 2 sides and two
    rng.randint, in that order) are the earlier json.dumps version's, so a seed gives the same
    orders. Speed (about 3.5 µs an order): the bodies are prebuilt, and each account's HMAC is
    keyed and fed timestamp + "POST" + path once; an order copies it and adds its body."""
    rng = random.Random(seed)
    choice, randint = rng.choice, rng.randint
    stamps = Stamps(len(creds), len(ORDER_BODIES))
    signers = [{} for _ in creds]  # per account: k -> (HMAC's copy method, line up to the signature)

    def signer(a, k):
        key, secret = creds[a]
        ts = stamps.ts(k)
        mac = hmac.new(secret.encode(), (ts + "POST" + ORDERS_PATH).encode(), hashlib.sha256)
        signers[a][k] = (mac.copy, f"POST\t{ORDERS_PATH}\tX-API-Key: {key}|X-API-Timestamp: {ts}"
                                   "|X-API-Signature: ")
        return signers[a][k]

    n, sides, raw = len(creds), (0, 1), [body.encode() for body in ORDER_BODIES]
    with open(path_tsv, "w") as f:
        write = f.write
        for i in range(orders):
            a = i % n
            # choice((0, 1)) draws as choice(SIDES) does (seq[_randbelow(len(seq))]).
            b = (choice(sides) * 101 + randint(1, 100)) * 41 + randint(-20, 20) + 20
            seen = stamps.seen[a]
            k = seen[b]
            seen[b] = k + 1
            copy, head = signers[a].get(k) or signer(a, k)
            mac = copy()
            mac.update(raw[b])
            write(f"{head}{mac.hexdigest()}|Content-Type: application/json\t{ORDER_BODIES[b]}\n")
    return stamps.expires(RECV_WINDOW_S)


def get_requests(path_tsv, path, n=64):
    """`n` unsigned GET requests: they may be repeated (wrk(..., repeat=True))."""
    with open(path_tsv, "w") as f:
        for _ in range(n):
            f.write(f"GET\t{path}\t\t\n")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def wrk(base, tsv, connections, seconds, repeat=False):
    """wrk with replay.lua on the requests in `tsv`: each line sent once (signed requests), or,
    with `repeat` (unsigned ones only), cycled through. A run that sent every line of the file
    (replay.lua then sends GET /health) is `exhausted`: its figures are not order entry's."""
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", LUA, base, "--", tsv, str(threads)] + (["repeat"] if repeat else []),
        capture_output=True, text=True, check=True).stdout
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else None
    total = int(grab(r"(\d+) requests in") or 0)
    non2xx = int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0)
    m = re.search(r"^replay: (\d+) lines in \d+ threads, (\d+) health requests after running out, "
                  r"(\d+) threads exhausted", out, re.M)
    if not m:
        raise RuntimeError("wrk printed no replay: line (replay.lua's done()):\n" + out)
    lines, fallback, threads_out = (int(g) for g in m.groups())
    exhausted = not repeat and (fallback > 0 or total > lines)
    if exhausted:
        log(f"WARNING: the run sent every pre-signed request ({total:,} requests, {lines:,} lines; "
            f"{threads_out} wrk thread(s) ran out and sent {fallback:,} GET /api/v1/health instead): "
            "its figures are not order entry's; pre-sign more (ORDERS_PER_SECOND)")
    return {
        "requests": total,
        "non_2xx": non2xx,
        "lines": lines,
        "exhausted": exhausted,
        "fallback_requests": fallback,
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)") or 0),
        "p50_ms": ms(grab(r"^\s+50%\s+(\S+)") or ""),
        "p99_ms": ms(grab(r"^\s+99%\s+(\S+)") or ""),
        "max_ms": ms(grab(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)") or ""),
    }


def metric(text, name):
    """Sum of every sample of `name` (all label sets)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def commit_p99_ms(before, after):
    """p99 of journal commit time during the run, from the histogram's bucket deltas."""
    def buckets(text):
        b = {}
        for line in text.splitlines():
            m = re.match(r'perpx_journal_commit_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
            if m:
                b[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
        return b
    b0, b1 = buckets(before), buckets(after)
    bounds = sorted(b1)
    counts = [b1[le] - b0.get(le, 0) for le in bounds]
    if not counts or counts[-1] <= 0:
        return None
    want = 0.99 * counts[-1]
    for le, c in zip(bounds, counts):
        if c >= want:
            return le * 1000
    return None


def publisher_drain(workdir, urls, seconds):
    """The publisher's sustained throughput: a server without replication takes orders for
    `seconds` (its journal grows, snapshots off so nothing is pruned), is killed, and comes
    back with a [replication] section on an empty stream: it publishes its whole journal.
    Entries per second = journal entries / time until the stream has them all."""
    global REPLICATION
    REPLICATION = ""
    log(f"publisher drain: {seconds} s of orders on a server without replication")
    s = Server("relaxed", 10 ** 8, workdir)
    tsv = os.path.join(s.dir, "requests.tsv")
    orders = orders_for(seconds)
    check_window("publisher drain", presign(s.base, 64, orders, tsv), seconds, orders)
    wrk(s.base, tsv, 64, seconds)
    os.remove(tsv)
    s.stop()
    REPLICATION = (f'\n[replication]\nnats_url = "{urls}"\nstream = "DRAIN"\n'
                   f'subject_prefix = "drain"\nreplicas = 3\n')
    t0 = time.time()
    s = Server("relaxed", 10 ** 8, workdir, reuse=s.dir)
    try:
        nats0 = nats_cpu_seconds()
        while True:
            st = call(s.base, "GET", "/api/v1/admin/replication")
            if st["replicated_seq"] >= st["local_seq"] > 0:
                break
            if time.time() - t0 > 300:
                raise RuntimeError(f"the publisher did not drain the journal: {st}")
            time.sleep(0.01)
        took = time.time() - t0
        m = s.metrics()
        runs = metric(m, 'perpx_replication_messages_total{stream="journal"}')
        result = dict(entries=st["local_seq"], seconds=took, entries_per_s=st["local_seq"] / took,
                      runs=runs, nats_cpu_s=nats_cpu_seconds() - nats0)
        log(f"publisher drain: {st['local_seq']:,} entries in {took:.2f} s (from the restart, start-up "
            f"included) = {result['entries_per_s']:,.0f} entries/s in {runs:,.0f} stream messages")
        return result
    finally:
        s.stop()
        REPLICATION = ""


def nats_cpu_seconds():
    total = 0.0
    for p in NATS_PROCS:
        try:
            with open(f"/proc/{p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


class LagSampler:
    """Samples the primary's replication lag (entries, seconds) every 50 ms in a thread."""

    def __init__(self, server):
        import threading
        self.server, self.max_entries, self.max_ms = server, 0.0, 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.done.wait(0.05):
            try:
                m = self.server.metrics()
            except OSError:
                continue
            self.max_entries = max(self.max_entries, metric(m, "perpx_replication_lag_entries"))
            self.max_ms = max(self.max_ms, metric(m, "perpx_replication_lag_seconds") * 1000)

    def stop(self):
        self.done.set()
        self.thread.join()


def catch_up_seconds(server, limit=60.0):
    """Seconds until the primary's replication lag is 0 entries (polled every 10 ms)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if metric(server.metrics(), "perpx_replication_lag_entries") == 0:
            return time.time() - t0
        time.sleep(0.01)
    return float("inf")


def check_window(name, expires, seconds, lines):
    """Refuse a run that would outlast its pre-signed requests: `expires` (epoch seconds, from
    the signer) must leave room for wrk to load `lines` and run `seconds`."""
    left = expires - time.time()
    need = seconds + lines * WRK_LOAD_US_PER_LINE / 1e6 + 5
    if left < need:
        raise RuntimeError(f"{name}: the pre-signed requests leave their window in {left:.0f} s, "
                           f"but loading and running them takes up to {need:.0f} s: shorten the run")


def run(name, durability, snapshot_every, connections, seconds, workdir, accounts,
        path=None, watch_rss=False, sign=presign):
    """One run on a fresh server: `accounts` funded accounts and orders_for(seconds) orders
    signed by `sign` (bench.presign's signature; it returns when its requests expire), right
    before wrk, or with `path`, unsigned GET requests of it."""
    log(f"{name}: starting a fresh server ({durability}, snapshot_every {snapshot_every})")
    s = Server(durability, snapshot_every, workdir)
    tsv = os.path.join(s.dir, "requests.tsv")  # about 350 bytes an order: removed after the run
    try:
        orders, signing = 0, 0.0
        if path:
            get_requests(tsv, path)
        else:
            orders = orders_for(seconds)
            log(f"{name}: creating {accounts} accounts and pre-signing {orders:,} orders")
            t0 = time.time()
            expires = sign(s.base, accounts, orders, tsv)
            signing = time.time() - t0
            log(f"{name}: accounts and {orders:,} orders signed in {signing:.1f} s")
            check_window(name, expires, seconds, orders)
        before, cpu0 = s.metrics(), s.cpu_seconds()
        nats_cpu0 = nats_cpu_seconds()
        sampler = LagSampler(s) if REPLICATION else None
        log(f"{name}: wrk -c{connections} for {seconds} s")
        r = wrk(s.base, tsv, connections, seconds, repeat=bool(path))
        cpu = s.cpu_seconds() - cpu0
        nats_cpu = nats_cpu_seconds() - nats_cpu0
        after = s.metrics()
        commits = metric(after, "perpx_journal_commit_seconds_count") - metric(before, "perpx_journal_commit_seconds_count")
        repl = {}
        if sampler:
            sampler.stop()
            # Stream entries acknowledged per second over the run, the lag during it and at
            # its end, and how long the stream took to catch up once the load stopped.
            shipped = metric(after, "perpx_replication_replicated_seq") - metric(before, "perpx_replication_replicated_seq")
            end_entries = metric(after, "perpx_replication_lag_entries")
            end_ms = metric(after, "perpx_replication_lag_seconds") * 1000
            caught_up = catch_up_seconds(s)
            def delta(name):
                return metric(after, name) - metric(before, name)
            repl = dict(entries_per_s=shipped / seconds, lag_end_entries=end_entries, lag_end_ms=end_ms,
                        journal_msgs=delta('perpx_replication_messages_total{stream="journal"}'),
                        events_msgs=delta('perpx_replication_messages_total{stream="events"}'),
                        journal_mb=delta('perpx_replication_bytes_total{stream="journal"}') / 1e6,
                        events_mb=delta('perpx_replication_bytes_total{stream="events"}') / 1e6,
                        lag_max_entries=sampler.max_entries, lag_max_ms=sampler.max_ms,
                        catch_up_s=caught_up, nats_cpu_s=nats_cpu)
            log(f"{name}: publisher {shipped / seconds:.0f} journal entries/s acknowledged by the stream; "
                f"lag at the end {end_entries:.0f} entries / {end_ms:.0f} ms, at most {sampler.max_entries:.0f} entries "
                f"/ {sampler.max_ms:.0f} ms (sampled every 50 ms); caught up {caught_up * 1000:.0f} ms after the load; "
                f"nats-servers used {nats_cpu:.1f} CPU-s")
        answered = max(r["requests"], 1)
        result = dict(name=name, durability=durability, snapshot_every=snapshot_every,
                      connections=connections, seconds=seconds, presigned=orders,
                      presign_s=signing, **r,
                      cpu_us_per_request=cpu / answered * 1e6,
                      rss_mb=s.rss_mb(),
                      resting_orders=int(metric(after, "perpx_book_orders")),
                      commits=int(commits),
                      requests_per_commit=(answered / commits) if commits and not path else None,
                      commit_p99_ms=None if path else commit_p99_ms(before, after), **repl)
        if watch_rss:
            time.sleep(5)
            result["rss_mb_5s_later"] = s.rss_mb()
        log(f"{name}: {r['rps']:.0f} requests/s, p99 {r['p99_ms']:.2f} ms, "
            f"{result['cpu_us_per_request']:.1f} µs CPU per request")
        return result
    finally:
        s.stop()
        if os.path.exists(tsv):
            os.remove(tsv)


def table(results):
    print()
    print("| run | requests/s | p50 / p99 / max ms | non-2xx | server CPU µs/request | RSS MB | resting orders | requests per commit | commit p99 ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        rss = f"{r['rss_mb']:.0f}" + (f" → {r['rss_mb_5s_later']:.0f}" if "rss_mb_5s_later" in r else "")
        rpc = f"{r['requests_per_commit']:.1f}" if r.get("requests_per_commit") else "—"
        cp = f"{r['commit_p99_ms']:.2f}" if r.get("commit_p99_ms") else "—"
        name = r["name"] + (" (EXHAUSTED: sent every pre-signed order)" if r.get("exhausted") else "")
        print(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} / {r['max_ms']:.1f} "
              f"| {r['non_2xx']} | {r['cpu_us_per_request']:.1f} | {rss} | {r['resting_orders']:,} | {rpc} | {cp} |")
    repl = [r for r in results if "entries_per_s" in r]
    if repl:
        print()
        print("| run | stream entries/s | lag at the end (entries / ms) | lag max, sampled (entries / ms) | caught up after | journal msgs / MB | events msgs / MB | nats-servers CPU-s |")
        print("|---|---:|---|---|---:|---|---|---:|")
        for r in repl:
            print(f"| {r['name']} | {r['entries_per_s']:,.0f} | {r['lag_end_entries']:.0f} / {r['lag_end_ms']:.0f} "
                  f"| {r['lag_max_entries']:.0f} / {r['lag_max_ms']:.0f} | {r['catch_up_s'] * 1000:.0f} ms "
                  f"| {r['journal_msgs']:,.0f} / {r['journal_mb']:.1f} | {r['events_msgs']:,.0f} / {r['events_mb']:.1f} "
                  f"| {r['nats_cpu_s']:.1f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a 5-second check: two short order runs")
    ap.add_argument("--seconds", type=int, default=20, help="duration of the main order runs")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="only the runs whose name contains TEXT (repeatable), e.g. --only immediate,")
    ap.add_argument("--replication", action="store_true",
                    help="immediate without and with replication vs replicated, 64 and 1 connections, on a loopback NATS cluster")
    ap.add_argument("--linger", help='with --replication: [replication] linger for the immediate runs (e.g. "20ms"; default: perpx\'s)')
    ap.add_argument("--idle-markets", type=int, default=0, metavar="N",
                    help="N idle copies of BTC-PERP beside the one traded (benches/markets.sh)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="with --replication: interleaved rounds of the 64-connection runs")
    args = ap.parse_args()
    global IDLE_MARKETS
    IDLE_MARKETS = args.idle_markets
    ensure_tools()
    work = tempfile.mkdtemp(prefix="perpx-http-bench-")
    results = []
    nats = []
    drain = None
    try:
        if args.replication:
            global REPLICATION
            nats, urls = nats_cluster(work)
            NATS_PROCS.extend(nats)
            t = args.seconds
            # Interleaved rounds: without NATS, with NATS (immediate), replicated; then one
            # connection each.
            plan = []
            for rnd in range(args.rounds):
                plan += [("immediate", 64, False), ("immediate", 64, True), ("replicated", 64, True)]
            plan += [("immediate", 1, True), ("replicated", 1, True)]
            drain = None if args.only else publisher_drain(work, urls, max(t // 2, 1))
            for i, (d, c, with_nats) in enumerate(plan):
                if args.only and not any(o in d for o in args.only):
                    continue
                # A stream per run (fresh server, fresh journal).
                REPLICATION = (f'\n[replication]\nnats_url = "{urls}"\nstream = "BENCH{i}"\n'
                               f'subject_prefix = "bench{i}"\nreplicas = 3\n'
                               + (f'linger = "{args.linger}"\n' if args.linger and (d != "replicated" or os.environ.get("LINGER_ALL")) else "")
                               ) if with_nats else ""
                label = f"{d} + NATS" if with_nats else f"{d}, no replication"
                results.append(run(f"{label}, {c} connection(s)", d, 100_000, c, t, work, 64))
        elif args.smoke:
            for d in ("relaxed", "immediate"):
                results.append(run(f"{d} (smoke)", d, 100_000, 8, 2, work, 8))
        else:
            t = args.seconds
            runs = [
                ("relaxed, snapshot_every 100,000", "relaxed", 100_000, 64, t, 64, {}),
                ("immediate, snapshot_every 100,000", "immediate", 100_000, 64, t, 64, dict(watch_rss=True)),
                ("immediate, snapshots off", "immediate", 10 ** 8, 64, t, 64, {}),
                ("relaxed, snapshots off", "relaxed", 10 ** 8, 64, max(t * 3 // 4, 1), 64, {}),
                ("immediate, 1 connection", "immediate", 100_000, 1, max(t // 2, 1), 64, {}),
                ("GET /api/v1/health", "relaxed", 100_000, 64, max(t // 2, 1), 0, dict(path="/api/v1/health")),
                ("GET /book?depth=20", "relaxed", 100_000, 64, max(t // 2, 1), 0,
                 dict(path="/api/v1/markets/BTC-PERP/book?depth=20")),
            ]
            for name, d, every, conns, secs, accounts, extra in runs:
                if args.only and not any(o in name for o in args.only):
                    continue
                results.append(run(name, d, every, conns, secs, work, accounts, **extra))
    finally:
        for p in nats:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    table(results)
    if args.replication and drain:
        print()
        print(f"Publisher drain (journal of {drain['entries']:,} entries published after a restart onto an "
              f"empty stream): {drain['seconds']:.2f} s = {drain['entries_per_s']:,.0f} entries/s in "
              f"{drain['runs']:,.0f} stream messages; nats-servers {drain['nats_cpu_s']:.1f} CPU-s")
    if args.json:
        write_json(args.json, results)
    bad = [r["name"] for r in results if r["requests"] == 0 or (r["non_2xx"] > r["requests"] // 100)
           or r["exhausted"]]
    if bad:
        log(f"runs with no requests, more than 1 % refused, or exhausted (sent every pre-signed request): {bad}")
        sys.exit(1)


if __name__ == "__main__":
    main()
