#!/usr/bin/env python3
"""The README's terminal screenshots at three screen sizes, and a walk through a trading session
at each size with a screenshot after every step (to look at, not asserted: the browser suite
asserts).

At each size (390×844 phone, 1366×768 laptop, 1920×1080 desktop), on a fresh release server with
the load generator trading in the background: log in through the dialog, place a limit buy with
a take-profit and a stop-loss through the order form (it rests), move it by editing its price,
buy at market with the form so the TP/SL attach to a position, and show the positions with
their TP/SL and the chart with the order, entry, liquidation and TP/SL lines.

  python3 tests/browser/readme_screens.py            # steps to target/by-hand/, README shots
                                                     # to docs/screenshots/terminal-<w>x<h>.png
Needs the release binaries (`cargo build --release --bins`), Chromium and Selenium as
`.ci/browser.sh` installs them.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import REPO, Server, chromium, loadgen_start, new_account, signed  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

SIZES = [(390, 844), (1366, 768), (1920, 1080)]
SYMBOL = "BTC-PERP"
STEPS = REPO / "target/by-hand"
README_SHOTS = REPO / "docs/screenshots"


def js(d, script, *args):
    return d.execute_script(script, *args)


def wait(fn, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # noqa: BLE001 - a page still rendering
            pass
        time.sleep(0.1)
    raise TimeoutError(what)


def view(d, name, narrow):
    """Show a view: a phone's tab (chart, book, form, tabs), nothing to do on a wide screen."""
    if narrow:
        d.find_element(By.ID, "v-" + name).click()
        wait(lambda: js(d, "return document.body.dataset.view") == name, what=name)


def typed(d, field, value):
    e = d.find_element(By.ID, field)
    e.clear()
    e.send_keys(value)


def session(server, w, h):
    narrow = w < 900
    trader = new_account(server, "50000", f"by-hand-{w}")
    mark = float(server_mark(server))
    d = chromium(w, h)
    steps = []

    def shot(name):
        path = STEPS / f"{w}x{h}-{len(steps) + 1:02d}-{name}.png"
        d.save_screenshot(str(path))
        steps.append(path.name)

    try:
        d.get(f"{server.base}/#{SYMBOL}")
        wait(lambda: js(d, "return window.perpxStats.state") == "live", what="live")
        d.find_element(By.ID, "login-open").click()
        typed(d, "l-key", trader["api_key"])
        typed(d, "l-secret", trader["api_secret"])
        shot("login")
        d.find_element(By.ID, "login-submit").click()
        wait(lambda: d.find_element(By.ID, "who").text == f"account {trader['account_id']}", what="logged in")
        # A limit buy below the market, with a take-profit and a stop-loss.
        view(d, "form", narrow)
        price = f"{round(mark * 0.99, 1):.1f}"
        typed(d, "f-price", price)
        typed(d, "f-qty", "0.05")
        tpsl = d.find_element(By.ID, "f-tpsl")
        if not tpsl.is_selected():
            tpsl.click()
        typed(d, "f-tp", f"{round(mark * 1.02, 1):.1f}")
        typed(d, "f-sl", f"{round(mark * 0.97, 1):.1f}")
        shot("form-with-tpsl")
        d.find_element(By.ID, "submit").click()
        wait(lambda: "rest" in d.find_element(By.ID, "form-msg").text.lower()
             or "new" in d.find_element(By.ID, "form-msg").text.lower(), what="order placed")
        shot("order-placed")
        # The same order at market instead: a position with its TP/SL.
        js(d, "const s = document.getElementById('f-type'); s.value = 'market'; s.dispatchEvent(new Event('change'))")
        typed(d, "f-qty", "0.02")
        shot("market-with-tpsl")
        d.find_element(By.ID, "submit").click()
        wait(lambda: signed(server, trader, "GET", "/api/v1/account")["positions"], what="a position")
        shot("filled")
        view(d, "tabs", narrow)
        d.find_element(By.CSS_SELECTOR, '.tabs [data-tab="positions"]').click()
        wait(lambda: "TP" in d.find_element(By.ID, "tab-body").text, what="TP/SL on the position")
        shot("positions")
        d.find_element(By.CSS_SELECTOR, '.tabs [data-tab="open"]').click()
        shot("open-orders")
        view(d, "chart", narrow)
        shot("chart-lines")
        view(d, "book", narrow)
        shot("book")
        # The README's picture: the trading view as a trader keeps it open.
        view(d, "form" if narrow else "chart", narrow)
        time.sleep(1.0)  # let the chart draw the last candles before the picture (not a check)
        # The step shots keep the toasts as they came; the README's picture shows the page under them.
        js(d, "for (const t of document.querySelectorAll('#toasts .toast')) t.remove()")
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(README_SHOTS / f"terminal-{w}x{h}.png"))
        errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
        return steps, errors
    finally:
        d.quit()


def server_mark(server):
    from conftest import get
    return get(server, f"/api/v1/markets/{SYMBOL}")["mark_price"]


def main():
    STEPS.mkdir(parents=True, exist_ok=True)
    server = Server()
    server.start()
    load = None
    try:
        load, _ = loadgen_start(server, 200, 600)
        time.sleep(3)  # a book and some candles before the first page (background, not a check)
        for w, h in SIZES:
            steps, errors = session(server, w, h)
            print(f"{w}x{h}: {len(steps)} steps -> target/by-hand/ ({', '.join(steps)}); "
                  f"console errors: {errors or 'none'}; README shot docs/screenshots/terminal-{w}x{h}.png")
    finally:
        if load:
            load.kill()
        server.stop()


if __name__ == "__main__":
    main()
