"""School nurse view end to end through the CLI: a synthetic population is
imported, its school-age people put on a school's roster with grades by age,
one files an objection to data sharing, one gets a religious exemption; the
CSV report is checked row by row, with the grade filter, an operator's own
requirements file, per-student audit and clear errors for bad input."""
import csv
import datetime
import io
import sqlite3
import subprocess

from conftest import BIN, run_cli

TODAY = datetime.date(2025, 9, 2)
SCHOOL = "Maple Regional School"
STATUSES = {"compliant", "in progress", "not compliant", "exempt (medical)", "exempt (religious)",
            "record not available to school"}


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def report_csv(data, *extra):
    out = run_cli("school", "report", "--data-dir", data, "--org", SCHOOL, "--today", TODAY.isoformat(),
                  "--csv", "-", *extra).stdout
    return list(csv.DictReader(io.StringIO(out)))


def fails(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, r.stdout
    return r.stderr


def test_school_roster_report_csv(tmp_path):
    data = str(tmp_path / "reg")
    hl7 = tmp_path / "synth.hl7"
    run_cli("synth", "--people", "400", "--today", TODAY.isoformat(), "--out", str(hl7))
    run_cli("import", "--data-dir", data, str(hl7))
    run_cli("org", "add", "--data-dir", data, "--name", SCHOOL, "--kind", "school")

    # School-age people (the test reads birth dates from the database only to
    # choose students; everything else goes through the CLI).
    con = sqlite3.connect(f"{data}/immunis.db")
    people = con.execute("SELECT patient_id, birth_date FROM patient WHERE merged_into IS NULL").fetchall()
    con.close()
    roster = {}
    for pid, bd in people:
        age = age_on(datetime.date.fromisoformat(bd), TODAY)
        if 5 <= age <= 17:
            roster[str(pid)] = "K" if age == 5 else str(age - 5)
    assert len(roster) >= 20, f"too few school-age people in the sample: {len(roster)}"
    # A few one by one, the rest from a CSV file.
    ids = sorted(roster, key=int)
    for pid in ids[:3]:
        run_cli("school", "roster", "add", "--data-dir", data, "--org", SCHOOL, "--patient", pid,
                "--grade", roster[pid], "--school-year", "2025-26")
    listing = tmp_path / "roster.csv"
    listing.write_text("patient_id,grade\n" + "".join(f"{p},{roster[p]}\n" for p in ids[3:]))
    out = run_cli("school", "roster", "import", "--data-dir", data, "--org", SCHOOL, "--school-year",
                  "2025-26", str(listing)).stdout
    assert f"{len(ids) - 3} students" in out
    broken = tmp_path / "broken.csv"
    broken.write_text("patient_id,grade\n1,K\nseven,7\n")
    assert "broken.csv:3" in fails("school", "roster", "import", "--data-dir", data, "--org", SCHOOL,
                                   str(broken))

    rows = report_csv(data)
    assert len(rows) == len(roster)
    header = list(rows[0].keys())
    assert header[:6] == ["registry_id", "name", "birth_date", "grade", "requirement_set", "overall"]
    assert header[-1] == "missing"
    for col in ["DTaP", "Polio", "Hepatitis B", "MMR", "Varicella", "Tdap", "MenACWY"]:
        assert col in header
    for r in rows:
        assert r["grade"] == roster[r["registry_id"]]
        assert r["overall"] in STATUSES, r
        assert r["name"] and r["birth_date"]
        expected_set = {"K": "k-6"}.get(r["grade"]) or (
            "k-6" if int(r["grade"]) <= 6 else "7-10" if int(r["grade"]) <= 10 else "11-12")
        assert r["requirement_set"] == expected_set, r
        if r["overall"] == "not compliant":
            assert "needs " in r["missing"], r
        if r["requirement_set"] == "k-6":
            assert r["Tdap"] == "" and r["DTaP"] != ""
        else:
            assert r["Tdap"] != "" and r["DTaP"] == ""
    # The synthetic schedules include late and missed doses: not everyone complies.
    overall = [r["overall"] for r in rows]
    assert "compliant" in overall and "not compliant" in overall, overall

    # An objection: the row stays, the record does not.
    objector = rows[0]["registry_id"]
    disclosed_before = run_cli("audit", "disclosures", "--data-dir", data, "--patient",
                               objector).stdout.count("school_report")
    assert disclosed_before == 1, "the first report disclosed the record once"
    run_cli("consent", "file", "--data-dir", data, "--patient", objector)
    # A religious exemption from every vaccine for a student who was not compliant.
    target = next(r for r in rows if r["overall"] == "not compliant" and r["registry_id"] != objector)
    out = run_cli("school", "exemption", "add", "--data-dir", data, "--org", SCHOOL, "--patient",
                  target["registry_id"], "--kind", "religious", "--signed", "2025-08-25").stdout
    assert "exemption" in out and "filed" in out

    rows2 = {r["registry_id"]: r for r in report_csv(data)}
    hidden = rows2[objector]
    assert hidden["overall"] == "record not available to school"
    assert hidden["name"] == "" and hidden["birth_date"] == "" and hidden["missing"] == ""
    assert hidden["grade"] == roster[objector]
    assert rows2[target["registry_id"]]["overall"] == "exempt (religious)"
    assert "exempt (religious)" in rows2[target["registry_id"]].values()

    # Grade filter.
    some_grade = roster[target["registry_id"]]
    only = report_csv(data, "--grade", some_grade)
    assert only and all(r["grade"] == some_grade for r in only)
    assert len(only) == sum(1 for g in roster.values() if g == some_grade)

    # Every student read is audited: the accounting of disclosures shows the
    # school report for a visible student, and the chain is intact.
    visible = next(k for k in roster if k != objector)
    disc = run_cli("audit", "disclosures", "--data-dir", data, "--patient", visible).stdout
    assert "school_report" in disc
    disc_hidden = run_cli("audit", "disclosures", "--data-dir", data, "--patient", objector).stdout
    assert disc_hidden.count("school_report") == disclosed_before, "nothing disclosed after the objection"
    run_cli("audit", "verify", "--data-dir", data)

    # An operator's own requirements file.
    own = tmp_path / "mmr-only.toml"
    own.write_text("""
name = "MMR only"
[[group]]
key = "MMR"
cdsi_group = "MMR"
cvx = [3, 94]
[[set]]
id = "all"
grades = ["K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
[[set.requirement]]
group = "MMR"
count = { doses = 1, min_age = "1y" }
""")
    mine = report_csv(data, "--school-requirements", str(own))
    assert list(mine[0].keys())[6:] == ["MMR", "missing"]
    assert all(r["requirement_set"] in ("all", "") for r in mine)

    # Table output without --csv, with the summary on stderr.
    plain = subprocess.run([BIN, "school", "report", "--data-dir", data, "--org", SCHOOL, "--today",
                            TODAY.isoformat()], capture_output=True, text=True, timeout=120, check=True)
    assert f"{len(roster)} students" in plain.stderr

    # Bad input: clear errors, no crash.
    assert "not a grade" in fails("school", "roster", "add", "--data-dir", data, "--org", SCHOOL,
                                  "--patient", visible, "--grade", "13")
    assert "not found" in fails("school", "report", "--data-dir", data, "--org", "No Such School")
    assert "unknown vaccine" in fails("school", "exemption", "add", "--data-dir", data, "--org", SCHOOL,
                                      "--patient", visible, "--kind", "medical", "--vaccines", "Smallpox",
                                      "--signed", "2025-08-25")
    assert "medical, religious or waiver" in fails("school", "exemption", "add", "--data-dir", data,
                                                   "--org", SCHOOL, "--patient", visible, "--kind",
                                                   "philosophical", "--signed", "2025-08-25")
    not_rostered = next(str(pid) for pid, _ in people if str(pid) not in roster)
    assert "roster" in fails("school", "exemption", "add", "--data-dir", data, "--org", SCHOOL,
                             "--patient", not_rostered, "--kind", "medical", "--signed", "2025-08-25")
    bad = tmp_path / "bad.toml"
    bad.write_text(own.read_text().replace('min_age = "1y"', 'min_age = "one year"'))
    assert "not an age" in fails("school", "report", "--data-dir", data, "--org", SCHOOL,
                                 "--school-requirements", str(bad))
