#!/usr/bin/env bash
# The web terminal in a real browser: Debian's Chromium and ChromeDriver driven by Selenium
# (tests/browser/) against a fresh release server on 127.0.0.1, with the load generator.
# Writes fresh screenshots to target/browser-screenshots/ and the measured browser figures to
# target/browser-perf.json. Bounded: the suite takes about two minutes once built.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
  timeout 300 $SUDO apt-get update -qq
  timeout 900 env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver > /dev/null
fi
chromium --version
# Selenium 4.51.0: 4.52 needs a newer certifi than the registry serves.
if ! python3 -c 'import selenium, pytest, sys; sys.exit(selenium.__version__ != "4.51.0")' 2> /dev/null; then
  timeout 300 python3 -m pip install --quiet "selenium==4.51.0" pytest
fi
if [ ! -x target/release/perpx ] || [ ! -x target/release/loadgen ]; then
  cargo build --release --bins
fi
cd tests/browser
timeout 600 python3 -m pytest -v -p no:cacheprovider -s test_terminal.py
