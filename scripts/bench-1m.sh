#!/usr/bin/env bash
# A registry of PEOPLE (default 1,000,000) synthetic people with full
# histories, then Z34 latency over MLLP and portal search/chart latency on it.
#   usage: scripts/bench-1m.sh DIR [PEOPLE]
# DIR gets pop.hl7 (one consolidated VXU per person, ≈ 10 GB for 1 M), the
# store (DIR/data, ≈ 29 GB for 1 M; the import takes about an hour on 2
# cores) and sample.hl7 (10,000 people at random, the queries' subjects).
# Steps already done (pop.hl7, data) are not redone. Needs wrk (Debian).
set -uo pipefail
cd "$(dirname "$0")/.."
DIR="$(realpath -m "${1:?usage: scripts/bench-1m.sh DIR [PEOPLE]}")"
PEOPLE="${2:-1000000}"
# Build first (as bench-ingest.sh does): a stale binary in the target dir
# once produced a run that measured old code.
[ -n "${IMMUNIS_BIN:-}" ] || cargo build --release -q -p immunis
B="${IMMUNIS_BIN:-${CARGO_TARGET_DIR:-target}/release/immunis}"
mkdir -p "$DIR"
[ -s "$DIR/pop.hl7" ] || "$B" synth --people "$PEOPLE" --seed 1 --today 2025-06-30 --consolidated --out "$DIR/pop.hl7"
if [ ! -e "$DIR/data/immunis.db" ]; then
    time "$B" import --data-dir "$DIR/data" "$DIR/pop.hl7"
fi
[ -s "$DIR/sample.hl7" ] || shuf -n 10000 --random-source=<(yes) "$DIR/pop.hl7" > "$DIR/sample.hl7"
for i in $(seq 1 40); do
    code=$(printf "MA%04d" "$i")
    "$B" facility add --data-dir "$DIR/data" --organization "Synthetic provider $i" --code "$code" --name "$code" >/dev/null 2>&1
done
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
IMMUNIS_LOG=warn "$B" serve --data-dir "$DIR/data" --http 127.0.0.1:0 --mllp 127.0.0.1:0 2>"$DIR/serve.log" &
SP=$!
for _ in $(seq 1 600); do grep -q "MLLP on" "$DIR/serve.log" && break; sleep 0.5; done
MLLP=$(sed -n 's/.*MLLP on \([0-9.:]*\).*/\1/p' "$DIR/serve.log")
echo "== Z34 warm-up (500, 8 connections)"
"$B" bench-mllp --mllp "$MLLP" --connections 8 --as-z34 --limit 500 "$DIR/sample.hl7" 2>&1 | tail -1
for c in 1 8; do
    echo "== Z34, $c connections"
    T0=$(awk '{print $14+$15}' /proc/$SP/stat)
    "$B" bench-mllp --mllp "$MLLP" --connections "$c" --as-z34 --limit 3000 "$DIR/sample.hl7" 2>&1 | tail -1
    T1=$(awk '{print $14+$15}' /proc/$SP/stat)
    echo "server CPU per query: $(( (T1 - T0) * 10000 / 3000 )) µs"
done
kill -INT $SP; wait $SP
for c in 8 2; do
    echo "== portal, $c connections"
    POP="$DIR/sample.hl7" IMMUNIS_BIN="$B" scripts/bench-portal.sh "$DIR/data" 20 "$c"
done
echo "== done $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
