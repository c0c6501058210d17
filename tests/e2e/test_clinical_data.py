"""Clinical data currency (issue 20): a newer CDC CDSi release is loaded at
start-up without a rebuild (`serve --supporting-data DIR`, the release's
folder as CDC ships it: release notes beside an XML/ folder), `/health`
names the release in force and what of the data is out of date, and a
directory that holds no release stops `serve` with a message naming it."""
import json
import shutil
import subprocess
import urllib.request

from conftest import BIN, SHARED, Server


def newer_release(tmp_path):
    """The shared 4.64 release with influenza moved to a season that has
    not ended, named 4.99 by its release notes."""
    src = SHARED / "cdsi" / "supporting-data-4.64"
    dst = tmp_path / "cdsi-4.99"
    shutil.copytree(src, dst)
    flu = next((dst / "XML").glob("*Influenza*.xml"))
    text = flu.read_text(encoding="utf-8")
    assert "<endDate>20260630</endDate>" in text
    flu.write_text(text.replace("<endDate>20260630</endDate>", "<endDate>20990630</endDate>"), encoding="utf-8")
    (dst / "Release-Notes.txt").write_text("Supporting Data Release Notes \u2013 4.99\nA test release\n", encoding="utf-8")
    return dst


def health(server):
    with urllib.request.urlopen(f"{server.http}/health", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        return json.loads(r.read())


def test_health_names_the_embedded_release_and_what_is_out_of_date(fresh_data_dir):
    server = Server(fresh_data_dir)
    try:
        h = health(server)
        assert h["status"] == "ok" and h["backend"] == "sqlite"
        assert h["cdsi_supporting_data"] == "4.64"
        assert "Massachusetts" in h["school_requirements"]
        assert isinstance(h["out_of_date"], list)
    finally:
        server.stop()


def test_a_newer_release_is_loaded_at_start_up(fresh_data_dir, tmp_path):
    release = newer_release(tmp_path)
    server = Server(fresh_data_dir, extra_args=["--supporting-data", str(release)])
    try:
        h = health(server)
        assert h["cdsi_supporting_data"] == "4.99"
        assert not any(w.startswith("Influenza:") for w in h["out_of_date"]), h["out_of_date"]
    finally:
        server.stop()


def test_a_directory_without_a_release_stops_serve_with_its_name(fresh_data_dir, tmp_path):
    empty = tmp_path / "not-a-release"
    empty.mkdir()
    r = subprocess.run([BIN, "serve", "--data-dir", fresh_data_dir, "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0",
                        "--supporting-data", str(empty)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert str(empty) in r.stderr and "ScheduleSupportingData" in r.stderr, r.stderr


def test_forecast_uses_the_given_release(tmp_path):
    release = newer_release(tmp_path)
    patient = {"id": "p1", "birth_date": "2024-01-15", "sex": "F", "assessment_date": "2026-12-07", "doses": []}
    out = subprocess.run([BIN, "forecast", "--supporting-data", str(release)], input=json.dumps(patient) + "\n",
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[0])
    flu = [g for g in result["vaccine_groups"] if g["name"] == "Influenza"]
    assert flu and flu[0]["status"] != "Not Recommended", flu
