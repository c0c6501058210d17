"""The command-line contract: import (single, many, FHS/BHS batches) with one
ACK per message and a summary; forecast NDJSON; synth; bad input gets a clear
message, never a crash."""
import json
import subprocess

from conftest import BIN, MESSAGES, run_cli


def test_import_files_and_batches(fresh_data_dir, tmp_path):
    files = [
        MESSAGES / "001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7",
        MESSAGES / "059_batch_nmsiis-fhs-bhs-vxu-batch.hl7",
        MESSAGES / "110_vxu_malformed-extra-pipes.hl7",
    ]
    acks = tmp_path / "acks.hl7"
    out = run_cli("import", "--data-dir", fresh_data_dir, "--acks", str(acks), *map(str, files))
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith("imported "), summary
    total = int(summary.split()[1])
    assert total >= 3
    assert acks.read_text().count("MSA|") == total
    # Re-importing the same files applies nothing twice and still answers every message.
    again = run_cli("import", "--data-dir", fresh_data_dir, *map(str, files))
    assert again.stdout.strip().splitlines()[-1] == summary


def test_import_of_a_file_without_messages_fails_naming_it(fresh_data_dir, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is a shopping list, not HL7\n")
    r = subprocess.run([BIN, "import", "--data-dir", fresh_data_dir, str(notes)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, r.stdout
    assert str(notes) in r.stderr and "no HL7 message" in r.stderr, r.stderr
    # Beside a good file: the good file loads, the run still fails.
    good = MESSAGES / "001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7"
    r = subprocess.run([BIN, "import", "--data-dir", fresh_data_dir, str(good), str(notes)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "1 accepted" in r.stdout, r.stdout
    assert str(notes) in r.stderr


def test_a_wrong_data_dir_is_reported_and_left_empty(tmp_path):
    missing = tmp_path / "no-such-registry"
    for args in (["user", "list"], ["user", "add", "--username", "nurse2", "--organization", "Demo Pediatrics"],
                 ["review", "list"], ["audit", "verify"]):
        r = subprocess.run([BIN, *args, "--data-dir", str(missing)], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, (args, r.stdout)
        assert "no registry in" in r.stderr and str(missing / "immunis.db") in r.stderr, r.stderr
        assert "immunis serve --data-dir" in r.stderr, r.stderr
        assert not missing.exists(), f"{args} left {missing} behind"


def test_forecast_ndjson_contract():
    lines = [
        {"id": "case-1", "birth_date": "2020-01-31", "sex": "F", "assessment_date": "2025-11-10",
         "doses": [{"date": "2020-03-31", "cvx": "20", "mvx": "SKB"}]},
        "not json",
        {"id": "case-3", "birth_date": "2024-13-01", "sex": "F", "assessment_date": "2025-11-10", "doses": []},
    ]
    stdin = "\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n"
    out = subprocess.run([BIN, "forecast"], input=stdin, capture_output=True, text=True, timeout=60, check=True)
    results = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(results) == 3
    first = results[0]
    assert first["id"] == "case-1"
    dtap = next(g for g in first["vaccine_groups"] if g["name"] == "DTaP/Tdap/Td")
    assert dtap["status"] == "Not Complete"
    assert dtap["forecast"]["dose_number"] == 2
    assert dtap["evaluations"][0]["status"] == "Valid"
    assert "error" in results[1]
    assert results[2]["id"] == "case-3" and "error" in results[2]


def test_synth_is_deterministic(tmp_path):
    a, b = tmp_path / "a.hl7", tmp_path / "b.hl7"
    for f in (a, b):
        run_cli("synth", "--people", "50", "--seed", "9", "--today", "2025-06-30", "--out", str(f))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().count("MSH|") >= 50


def test_missing_file_is_a_clear_error(fresh_data_dir):
    p = subprocess.run([BIN, "import", "--data-dir", fresh_data_dir, "/nonexistent/file.hl7"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "cannot read /nonexistent/file.hl7" in p.stderr
