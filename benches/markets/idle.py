#!/usr/bin/env python3
"""Idle markets: start perpx with N copies of the shipped BTC-PERP market (demo index, no
orders, no clients) and report, per N, the time from start to a healthy answer, the heap
(`perpx_heap_bytes`) and RSS after 5 s, the idle CPU over the next 10 s, the thread count, and
the size and time (median of 5) of a `/metrics` scrape, `GET /api/v1/markets` and
`GET /fapi/v1/exchangeInfo` (docs/OPERATIONS.md §11). Several binaries: each N is measured
with each binary in turn (interleaved before/after).

  python3 benches/markets/idle.py target/release/perpx 10 100 500 1000
  python3 benches/markets/idle.py OLD,NEW 500
"""
import os, re, subprocess, sys, tempfile, time, urllib.request
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
text = open(os.path.join(ROOT, "markets.toml")).read()
# The configuration before the first market, and the first market (BTC-PERP) with its tiers.
first = text.index("[[markets]]")
head = text[:first]
block = text[first:text.index("[[markets]]", first + 1)]
def conf(n):
    out = [head.replace('data_dir = "data"', 'data_dir = "d"')]
    for i in range(n):
        b = block.replace('symbol = "BTC-PERP"', f'symbol = "B{i}-PERP"')
        b = re.sub(r'base_asset\s*=\s*"[^"]+"', f'base_asset = "B{i}"', b)
        out.append(b)
    return "\n".join(out) + "\n"


def get(url):
    return urllib.request.urlopen(url, timeout=5).read().decode()
def timed(url):
    """The body's size in KB and the median time of 5 requests in ms."""
    times, body = [], ""
    for _ in range(5):
        t = time.perf_counter(); body = get(url); times.append((time.perf_counter() - t) * 1e3)
    return len(body.encode()) / 1e3, sorted(times)[2]


def measure(bin_, n):
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "m.toml"); open(cfg, "w").write(conf(n))
    port = 18000 + n
    t0 = time.time()
    p = subprocess.Popen([bin_, "--config", cfg, "--data-dir", os.path.join(d, "data"), "--listen", f"127.0.0.1:{port}"],
                         env=dict(os.environ, PERPX_ADMIN_TOKEN="t", RUST_LOG="warn"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                get(f"http://127.0.0.1:{port}/api/v1/health"); break
            except Exception:
                if p.poll() is not None:
                    sys.exit(f"{bin_} exited with {p.returncode} before it was healthy")
                time.sleep(0.02)
        start = time.time() - t0
        time.sleep(5)
        def cpu():
            f = open(f"/proc/{p.pid}/stat").read().split(")")[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        c0 = cpu(); time.sleep(10); c1 = cpu()
        m = get(f"http://127.0.0.1:{port}/metrics")
        heap = float(re.search(r"^perpx_heap_bytes (\S+)", m, re.M).group(1))
        status = open(f"/proc/{p.pid}/status").read()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        mk, mms = timed(f"http://127.0.0.1:{port}/metrics")
        lk, lms = timed(f"http://127.0.0.1:{port}/api/v1/markets")
        ek, ems = timed(f"http://127.0.0.1:{port}/fapi/v1/exchangeInfo")
        print(f"{os.path.basename(bin_)} markets={n}: healthy {start:.2f} s, heap {heap/1e6:.0f} MB "
              f"({heap/n/1e6:.3f} MB/market), RSS {rss:.0f} MB, idle CPU {(c1-c0)/10*100:.1f} %, "
              f"threads {threads}, /metrics {mk:.0f} KB in {mms:.1f} ms, /api/v1/markets {lk:.0f} KB "
              f"in {lms:.1f} ms, exchangeInfo {ek:.0f} KB in {ems:.1f} ms", flush=True)
    finally:
        p.terminate(); p.wait()
        subprocess.run(["rm", "-rf", d])


bins = sys.argv[1].split(",")
print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
for n in map(int, sys.argv[2:]):
    for b in bins:
        measure(b, n)
print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
