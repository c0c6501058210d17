#!/usr/bin/env bash
# QBP Z34 latency over MLLP on a registry scripts/bench-1m.sh built (warm
# runs: run it twice and take the second). Starts `immunis serve` on
# DIR/data, sends the first 3,000 people of DIR/sample.hl7 as Z34 queries at
# each connection count, and prints the server's CPU per query.
#   usage: scripts/bench-z34.sh DIR        (CONNS="1 8" by default)
set -uo pipefail
cd "$(dirname "$0")/.."
DIR="$(realpath -m "${1:?usage: scripts/bench-z34.sh DIR}")"
[ -n "${IMMUNIS_BIN:-}" ] || cargo build --release -q -p immunis
B="${IMMUNIS_BIN:-${CARGO_TARGET_DIR:-target}/release/immunis}"
IMMUNIS_LOG=warn "$B" serve --data-dir "$DIR/data" --http 127.0.0.1:0 --mllp 127.0.0.1:0 2>"$DIR/serve-z34.log" &
SP=$!
trap 'kill -INT $SP 2>/dev/null; wait $SP 2>/dev/null' EXIT
for _ in $(seq 1 600); do grep -q "MLLP on" "$DIR/serve-z34.log" && break; sleep 0.5; done
MLLP=$(sed -n 's/.*MLLP on \([0-9.:]*\).*/\1/p' "$DIR/serve-z34.log")
for c in ${CONNS:-1 8}; do
    T0=$(awk '{print $14+$15}' "/proc/$SP/stat")
    echo -n "connections=$c: "
    "$B" bench-mllp --mllp "$MLLP" --connections "$c" --as-z34 --limit 3000 "$DIR/sample.hl7" 2>&1 | tail -1
    T1=$(awk '{print $14+$15}' "/proc/$SP/stat")
    echo "   server CPU per query: $(( (T1 - T0) * 10000 / 3000 )) µs"
done
