#!/usr/bin/env bash
# End-to-end durable ingest benchmark over MLLP: a release `immunis serve`
# (SQLite by default, or PostgreSQL with BACKEND=postgres), synthetic VXU
# messages from `immunis synth`, and `immunis bench-mllp` with 8 concurrent
# connections, each waiting for its ACK (sent only after commit).
#   usage: scripts/bench-ingest.sh [PEOPLE] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
PEOPLE="${1:-5000}"
CONN="${2:-8}"
BACKEND="${BACKEND:-sqlite}"
cargo build --release -q -p immunis
BIN="${IMMUNIS_BIN:-${CARGO_TARGET_DIR:-target}/release/immunis}"
WORK="$(mktemp -d /tmp/immunis-bench.XXXXXX)"
trap 'kill $SERVER 2>/dev/null || true; [ "$BACKEND" = postgres ] && pg_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
STORE=(--data-dir "$WORK/data")
if [ "$BACKEND" = postgres ]; then
    source scripts/pg.sh
    pg_start
    "$IMMUNIS_PG_BIN/createdb" -h "${IMMUNIS_TEST_PG#host=}" 2>/dev/null || true
    psql "$IMMUNIS_TEST_PG dbname=postgres" -qc "CREATE DATABASE immunis_bench" >/dev/null
    STORE=(--database-url "$IMMUNIS_TEST_PG dbname=immunis_bench")
fi
"$BIN" synth --people "$PEOPLE" --seed 1 --today 2025-06-30 --out "$WORK/pop.hl7" 2>/dev/null
for i in $(seq 1 40); do
    code=$(printf "MA%04d" "$i")
    "$BIN" facility add "${STORE[@]}" --organization "Synthetic provider $i" --code "$code" --name "$code" >/dev/null
done
IMMUNIS_LOG=warn "$BIN" serve "${STORE[@]}" --http 127.0.0.1:0 --mllp 127.0.0.1:0 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 1 100); do grep -q "MLLP on" "$WORK/serve.log" && break; sleep 0.1; done
MLLP=$(sed -n 's/.*MLLP on \([0-9.:]*\).*/\1/p' "$WORK/serve.log")
MESSAGES=$(grep -c '^MSH' "$WORK/pop.hl7")
echo "backend=$BACKEND people=$PEOPLE connections=$CONN messages=$MESSAGES"
# CPU seconds (user + system) the server has used: /proc/PID/stat fields 14, 15.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SERVER/stat"; }
CPU0=$(server_cpu)
TIMEFORMAT='client (bench-mllp) CPU %U s user + %S s system, %R s wall'
time "$BIN" bench-mllp --mllp "$MLLP" --connections "$CONN" "$WORK/pop.hl7"
CPU1=$(server_cpu)
awk -v a="$CPU0" -v b="$CPU1" -v n="$MESSAGES" 'BEGIN {
    printf "server CPU %.2f s = %.0f us per message\n", b - a, (b - a) * 1e6 / n }'
# Per thread since start (the writer is the single-threaded part): name, µs per message.
for t in /proc/$SERVER/task/*; do
    awk -v hz="$(getconf CLK_TCK)" -v n="$MESSAGES" -v name="$(cat "$t/comm")" \
        '{ cpu = ($14 + $15) / hz; if (cpu > 0.05) printf "  thread %-16s %6.2f s = %4.0f us per message\n", name, cpu, cpu * 1e6 / n }' "$t/stat"
done
if [ -n "${QUERIES:-}" ]; then
    echo "Z34 queries for $QUERIES of the loaded people:"
    "$BIN" bench-mllp --mllp "$MLLP" --connections "$CONN" --as-z34 --limit "$QUERIES" "$WORK/pop.hl7"
fi
