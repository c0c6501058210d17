#!/usr/bin/env bash
# Portal latency benchmark: patient search and chart render (history +
# forecast, each read audited with a durable commit) under wrk on loopback.
#   usage: scripts/bench-portal.sh DATA_DIR [SECONDS] [CONNECTIONS]
# DATA_DIR holds a registry loaded beforehand, e.g.
#   immunis synth --people 100000 --seed 1 --today 2025-06-30 --out pop.hl7
#   immunis import --data-dir DATA_DIR pop.hl7
# POP (default DATA_DIR/../pop.hl7) is read to pick searches of real people.
# Needs wrk (Debian package) and python3 (TOTP code, sampling).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:?usage: scripts/bench-portal.sh DATA_DIR [SECONDS] [CONNECTIONS]}"
SECS="${2:-30}"
CONN="${3:-8}"
POP="${POP:-$(dirname "$DATA")/pop.hl7}"
BIN="${IMMUNIS_BIN:-${CARGO_TARGET_DIR:-target}/release/immunis}"
WORK="$(mktemp -d /tmp/immunis-bench-portal.XXXXXX)"
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }

"$BIN" org add --data-dir "$DATA" --name "Bench clinic" --kind provider >/dev/null 2>&1 || true
"$BIN" facility add --data-dir "$DATA" --organization "Bench clinic" --code BENCH1 --name "Bench clinic" >/dev/null 2>&1 || true
USER="bench$RANDOM"
SECRET=$(BENCH_PW='plum-ferry-42-orbit' "$BIN" user add --data-dir "$DATA" --username "$USER" \
    --organization "Bench clinic" --password-env BENCH_PW | sed -n 's/^TOTP secret (shown once): //p')
PATIENTS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select max(patient_id) from patient').fetchone()[0])" "$DATA/immunis.db" 2>/dev/null || echo 1000)

IMMUNIS_LOG=warn "$BIN" serve --data-dir "$DATA" --http 127.0.0.1:0 --mllp 127.0.0.1:0 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 1 300); do grep -q "HTTP on" "$WORK/serve.log" && break; sleep 0.1; done
HTTP=$(sed -n 's/.*HTTP on http:\/\/\([0-9.:]*\).*/\1/p' "$WORK/serve.log")
BASE="http://$HTTP"

CODE=$(python3 - "$SECRET" <<'EOF'
import base64, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1])
h = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), "sha1").digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))
EOF
)
JAR="$WORK/jar"
CSRF=$(curl -s -c "$JAR" "$BASE/portal/login" | sed -n 's/.*name="_csrf" value="\([0-9a-f]*\)".*/\1/p')
curl -s -b "$JAR" -c "$JAR" -o /dev/null -w '%{http_code}' --data-urlencode "_csrf=$CSRF" \
    --data-urlencode "username=$USER" --data-urlencode "password=plum-ferry-42-orbit" \
    --data-urlencode "totp=$CODE" "$BASE/portal/login" | grep -q 303 || { echo "login failed" >&2; exit 1; }
SESSION=$(awk '$6 == "immunis_session" {print $7}' "$JAR")

# 2,000 searches of real people (surname with one letter dropped when long
# enough — the typo tolerance — given name, birth date), and random charts.
python3 - "$POP" "$PATIENTS" "$WORK" <<'EOF'
import random, sys, urllib.parse
pop, patients, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(7)
people = []
with open(pop, encoding="utf-8", errors="replace") as f:
    for line in f:
        for seg in line.split("\r"):
            if seg.startswith("PID|"):
                p = seg.split("|")
                if len(p) > 7 and "^" in p[5] and len(p[7]) >= 8:
                    fam, giv = p[5].split("^")[:2]
                    d = p[7][:8]
                    people.append((fam, giv, f"{d[:4]}-{d[4:6]}-{d[6:8]}"))
        if len(people) > 200000:
            break
sample = random.sample(people, min(2000, len(people)))
with open(f"{work}/search.txt", "w") as out:
    for fam, giv, dob in sample:
        if len(fam) > 5 and random.random() < 0.5:
            i = random.randrange(1, len(fam) - 1)
            fam = fam[:i] + fam[i + 1:]
        q = urllib.parse.urlencode({"family": fam, "given": giv, "birth_date": dob})
        out.write(f"/portal/search?{q}\n")
with open(f"{work}/chart.txt", "w") as out:
    for _ in range(2000):
        out.write(f"/portal/patients/{random.randint(1, patients)}\n")
EOF

cat > "$WORK/paths.lua" <<EOF
local paths = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = math.random(#paths)
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Cookie"] = "immunis_session=$SESSION" })
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors: status %d, timeout %d\n", summary.requests, summary.errors.status, summary.errors.timeout))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%s %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
EOF
echo "people: $PATIENTS (max patient id); $CONN connections, $SECS s each"
for kind in search chart; do
    echo "== $kind =="
    wrk -t2 -c"$CONN" -d"${SECS}s" --latency -s "$WORK/paths.lua" "$BASE" -- "$WORK/$kind.txt" \
        | grep -E "Requests/sec|requests |^p[0-9]"
done
