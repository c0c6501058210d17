#!/usr/bin/env bash
# School report benchmark: a synthetic population (PEOPLE, default 20,000),
# imported through the CLI; STUDENTS (default 1,000) of its school-age people
# put on one school's roster with grades by age (roster import); then the
# report timed, with its CSV export: access decision, record read, CDSi
# evaluation, school rules and one audit entry per student.
# Usage: scripts/bench-school.sh [PEOPLE] [STUDENTS]   (release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
PEOPLE=${1:-20000}
STUDENTS=${2:-1000}
TODAY=2025-09-02
BIN=${IMMUNIS_BIN:-${CARGO_TARGET_DIR:-target}/release/immunis}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p immunis" >&2; exit 1; }
WORK=$(mktemp -d /tmp/immunis-bench-school.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$BIN" synth --people "$PEOPLE" --today "$TODAY" --out "$WORK/pop.hl7" 2>/dev/null
"$BIN" import --data-dir "$WORK/reg" "$WORK/pop.hl7" | tail -1
"$BIN" org add --data-dir "$WORK/reg" --name "Bench School" --kind school >/dev/null
python3 - "$WORK" "$STUDENTS" "$TODAY" <<'PY'
import datetime, sqlite3, sys
work, want, today = sys.argv[1], int(sys.argv[2]), datetime.date.fromisoformat(sys.argv[3])
con = sqlite3.connect(f"{work}/reg/immunis.db")
out = []
for pid, bd in con.execute("SELECT patient_id, birth_date FROM patient WHERE merged_into IS NULL ORDER BY patient_id"):
    b = datetime.date.fromisoformat(bd)
    age = today.year - b.year - ((today.month, today.day) < (b.month, b.day))
    if 5 <= age <= 17 and len(out) < want:
        out.append(f"{pid},{'K' if age == 5 else age - 5}")
open(f"{work}/roster.csv", "w").write("patient_id,grade\n" + "\n".join(out) + "\n")
print(f"{len(out)} school-age students selected", file=sys.stderr)
PY
"$BIN" school roster import --data-dir "$WORK/reg" --org "Bench School" --school-year 2025-26 "$WORK/roster.csv"
for run in 1 2 3; do
    start=$(date +%s.%N)
    "$BIN" school report --data-dir "$WORK/reg" --org "Bench School" --today "$TODAY" --csv "$WORK/report.csv"
    end=$(date +%s.%N)
    echo "run $run: school report + CSV, $(($(wc -l <"$WORK/report.csv") - 1)) students: $(python3 -c "print(f'{$end - $start:.2f}')") s"
done
