"""Fixtures for the browser tests: a fresh release server on 127.0.0.1 (killed on teardown,
restartable on the same port and data), the load generator, a headless Debian Chromium driven
by Selenium, and small REST helpers (admin token, HMAC-signed requests) to check what the page
shows against the API.

Run by `.ci/browser.sh`; by hand: `python3 -m pytest -v tests/browser` after
`cargo build --release --bins` (PERPX_BIN / LOADGEN_BIN override the binaries).
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[2]
PERPX = Path(os.environ.get("PERPX_BIN", REPO / "target/release/perpx"))
LOADGEN = Path(os.environ.get("LOADGEN_BIN", REPO / "target/release/loadgen"))
TOKEN = "browser-test-admin-token"
# Load rates are multiplied by this (e.g. 0.1 to try the tests on debug binaries).
RATE_SCALE = float(os.environ.get("BROWSER_RATE_SCALE", "1"))
# Fresh screenshots go here; `BROWSER_SCREENSHOTS=docs/screenshots` refreshes the committed ones.
SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", REPO / "target/browser-screenshots"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The perpx binary on the shipped markets.toml (or `config`), a fresh data directory and a
    fixed port."""

    def __init__(self, config=None):
        self.dir = Path(tempfile.mkdtemp(prefix="perpx-browser-"))
        self.config = Path(config) if config else REPO / "markets.toml"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.dir / f"server-{self.starts}.log", "wb")
        env = dict(os.environ, PERPX_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [str(PERPX), "--config", str(self.config), "--data-dir", str(self.dir / "data"),
             "--listen", f"127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"perpx exited with {self.proc.returncode}: {self.log()}")
            try:
                get(self, "/api/v1/health")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("perpx did not answer /api/v1/health within 20 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        return (self.dir / f"server-{self.starts}.log").read_text(errors="replace")[-2000:]


def request(server, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
    req = urllib.request.Request(server.base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {path}: HTTP {e.code} {e.read().decode()[:300]}") from None


def get(server, path):
    return request(server, "GET", path)


def metric(server, name, **labels):
    """The value of one sample of GET /metrics (a gauge or counter with these labels), or None."""
    with urllib.request.urlopen(server.base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)", line)
        if m and m.group(1) == name and (m.group(2) or "") == want:
            return float(m.group(3))
    return None


def admin(server, method, path, body=None):
    return request(server, method, path, body, {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})


_last_stamp = [0]


def signed(server, creds, method, path, body=None):
    """A private request signed as docs/API.md says (the same thing the page does with WebCrypto).
    Each signature gets a later millisecond than the one before: the server accepts a signature
    once, so two equal requests in one millisecond would be a replay (401 SIGNATURE_REPLAYED)."""
    text = "" if body is None else json.dumps(body)
    _last_stamp[0] = max(int(time.time() * 1000), _last_stamp[0] + 1)
    ts = str(_last_stamp[0])
    sig = hmac.new(creds["api_secret"].encode(), (ts + method + path + text).encode(), hashlib.sha256).hexdigest()
    headers = {"X-API-Key": creds["api_key"], "X-API-Timestamp": ts, "X-API-Signature": sig}
    if text:
        headers["Content-Type"] = "application/json"
    return request(server, method, path, text if text else None, headers)


def new_account(server, deposit="100000", label="browser"):
    acct = admin(server, "POST", "/api/v1/admin/accounts", {"label": label})
    admin(server, "POST", f"/api/v1/admin/accounts/{acct['account_id']}/deposits", {"amount": deposit})
    return acct


def loadgen_start(server, rate, seconds, *args):
    """Start the load generator (open loop at `rate` requests/s); returns (process, summary path)."""
    out = server.dir / f"loadgen-{time.time_ns()}.json"
    cmd = [str(LOADGEN), "--url", server.base, "--admin-token", TOKEN, "--json", str(out),
           "--rate", str(int(rate * RATE_SCALE)), "--duration", str(seconds), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT), out


def loadgen_finish(proc, out, timeout=120):
    try:
        text, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, f"loadgen failed: {text.decode(errors='replace')[-1500:]}"
    return json.loads(out.read_text())


def loadgen(server, rate, seconds, *args):
    """Run the load generator to the end; returns its JSON summary."""
    return loadgen_finish(*loadgen_start(server, rate, seconds, *args))


@pytest.fixture(scope="session")
def server():
    for b in (PERPX, LOADGEN):
        if not b.exists():
            pytest.exit(f"{b} is missing: run `cargo build --release --bins` first", returncode=2)
    s = Server()
    s.start()
    yield s
    s.stop()
    shutil.rmtree(s.dir, ignore_errors=True)


def chromium(width=1920, height=1080, extra=()):
    o = Options()
    o.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
              f"--window-size={width},{height}", "--user-data-dir=" + tempfile.mkdtemp(prefix="perpx-chromium-"), *extra]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")), options=o)
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    # The viewport itself is exactly width × height (screenshots at 1920×1080).
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    # Headless Chromium prefers a light colour scheme; the terminal's default is its dark theme
    # (the light theme has its own test, which switches this per test).
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    return d


@pytest.fixture(scope="session")
def browser():
    d = chromium()
    yield d
    d.quit()


def wait_for(fn, timeout=10.0, step=0.1, what="condition"):
    """Poll `fn` until it returns a truthy value; that value, or an AssertionError naming `what`."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - reported below if it never succeeds
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def console(driver):
    """Browser console entries since the last call, as (level, message)."""
    return [(e["level"], e["message"]) for e in driver.get_log("browser")]


def chromium_cpu_seconds(driver):
    """CPU seconds (user + system) used so far by the browser's processes started for `driver`,
    by Chromium process type: {"renderer": s, "gpu-process": s, "browser": s, ...}. Read from
    /proc (Linux), so it counts CPU actually used, not time spent waiting for a core."""
    root = driver.service.process.pid
    parents, kinds, cpu = {}, {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        pid = int(d)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
        # Child processes rewrite their command line into one string: "chromium --type=renderer ...".
        m = re.search(r"--type=(\S+)", cmd)
        kinds[pid] = (m.group(1) if m else "browser") if "chromium" in cmd.split(" ", 1)[0] else None
    out = {}
    for pid, kind in kinds.items():
        if kind is None:
            continue
        p = pid
        while p in parents and p != root and p > 1:
            p = parents[p]
        if p == root:
            out[kind] = out.get(kind, 0.0) + cpu[pid]
    return out
