"""Security from the operator's seat: the first-run bootstrap prints a
one-time password and a TOTP secret; users, organizations and OAuth clients
are administered from the CLI; the objection to data sharing is filed and
withdrawn with its history kept; PD1-12=Y over MLLP files an objection; the
audit trail verifies, is anchored to a file, and `audit verify` exits 2 after
the stored trail is edited, a row deleted, or the tail truncated; the
accounting of disclosures lists who saw a record."""
import json
import os
import time
import re
import shutil
import sqlite3
import subprocess
import urllib.request
import urllib.parse
import urllib.error

from hl7.client import MLLPClient

from conftest import BIN, Server, msa, run_cli, totp


def cli(*args, check=True, env=None):
    return subprocess.run([BIN, *args], check=check, capture_output=True, text=True, env=env, timeout=120)


VXU = "\r".join([
    "MSH|^~\\&|E2EEHR|E2E|IMMUNIS||20240101120000||VXU^V04^VXU_V04|SEC1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS",
    "PID|1||MRN-SEC1^^^E2E^MR||Privacy^Pat^^^^^L||20200115|F|||1 Main St^^Springfield^MA^01101^USA^L",
    "PD1|||||||||||02^Reminder/Recall - any method^HL70215|Y|20240105",
    "ORC|RE||ORD-SEC1-1^E2E",
    "RXA|0|1|20200315||20^DTaP^CVX|0.5|mL^^UCUM||00^New admin^NIP001|||||||LOT1|20251231|SKB^GSK^MVX|||CP|A",
])


def post_form(url, fields):
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None


def test_bootstrap_consent_anchor_tamper_and_disclosures(fresh_data_dir, tmp_path):
    d = fresh_data_dir
    out = cli("admin", "bootstrap", "--data-dir", d, "--username", "chief").stdout
    assert re.search(r"one-time password \(shown once\): \S{24}", out), out
    assert re.search(r"TOTP secret \(shown once\): [A-Z2-7]{32}", out), out
    admin_pw = re.search(r"one-time password \(shown once\): (\S+)", out).group(1)
    admin_totp = re.search(r"TOTP secret \(shown once\): (\S+)", out).group(1)
    assert cli("admin", "bootstrap", "--data-dir", d, check=False).returncode != 0

    cli("org", "add", "--data-dir", d, "--name", "Springfield Elementary", "--kind", "school")
    weak = cli("user", "add", "--data-dir", d, "--username", "nurse", "--organization",
               "Springfield Elementary", "--password-env", "PW", check=False, env=dict(os.environ, PW="password1234"))
    assert weak.returncode != 0 and "common" in weak.stderr
    cli("user", "add", "--data-dir", d, "--username", "nurse", "--organization", "Springfield Elementary",
        "--password-env", "PW", env=dict(os.environ, PW="plum-ferry-42-orbit"))
    users = cli("user", "list", "--data-dir", d).stdout
    assert re.search(r"nurse\tschool\tSpringfield Elementary\t-\tactive", users), users
    cli("user", "disable", "--data-dir", d, "--username", "nurse")
    assert "disabled" in cli("user", "list", "--data-dir", d).stdout
    secret = re.search(r"secret \(shown once\): (\S+)",
                       cli("client", "add", "--data-dir", d, "--client-id", "ehr", "--organization",
                           "Immunis E2E").stdout)
    assert secret

    # PD1-12 = Y over MLLP files an objection from the sending facility.
    server = Server(d)
    try:
        with MLLPClient(server.mllp_host, server.mllp_port) as c:
            assert msa(c.send_message(VXU).decode()) == "AA"
        # An OAuth token for the facility's organization reads its own dose.
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "ehr",
                                       "client_secret": secret.group(1)}).encode()
        tok = json.load(urllib.request.urlopen(server.http + "/oauth/token", data=body, timeout=10))
        req = urllib.request.Request(server.http + "/api/v0/patients/1",
                                     headers={"Authorization": "Bearer " + tok["access_token"]})
        rec = json.load(urllib.request.urlopen(req, timeout=10))
        assert rec["objection_to_sharing"] is True and len(rec["doses"]) == 1
        bad = urllib.request.Request(server.http + "/api/v0/patients/1", headers={"Authorization": "Bearer nope"})
        try:
            urllib.request.urlopen(bad, timeout=10)
            raise AssertionError("forged token accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 401
        # The administrator logs in with password + TOTP (an authenticator
        # app's code, computed here per RFC 6238) and reads the whole record.
        status, _ = post_form(server.http + "/session",
                              {"username": "chief", "password": admin_pw, "totp": "000000"})
        assert status == 401
        code = totp(admin_totp)
        status, sess = post_form(server.http + "/session",
                                 {"username": "chief", "password": admin_pw, "totp": code})
        assert status == 200 and sess["role"] == "registry_admin", sess
        req = urllib.request.Request(server.http + "/api/v0/patients/1",
                                     headers={"Authorization": "Bearer " + sess["session"]})
        rec = json.load(urllib.request.urlopen(req, timeout=10))
        assert rec["restricted"] is False and len(rec["doses"]) == 1
        # The same code cannot be replayed.
        status, _ = post_form(server.http + "/session",
                              {"username": "chief", "password": admin_pw, "totp": code})
        assert status == 401
    finally:
        server.stop()

    hist = cli("consent", "history", "--data-dir", d, "--patient", "1").stdout
    assert "objection_filed\t2024-01-05" in hist and "ACTIVE" in hist, hist
    cli("consent", "withdraw", "--data-dir", d, "--patient", "1", "--signed", "2024-03-01")
    hist = cli("consent", "history", "--data-dir", d, "--patient", "1").stdout
    assert "objection_withdrawn\t2024-03-01" in hist and "data sharing: none" in hist, hist

    disc = cli("audit", "disclosures", "--data-dir", d, "--patient", "1").stdout
    assert "client:ehr" in disc and "read_record" in disc, disc

    anchors = tmp_path / "anchors.txt"
    cli("audit", "anchor", "--data-dir", d, "--file", str(anchors))
    assert re.match(r"\d+ [0-9a-f]{64}\n", anchors.read_text())
    ok = cli("audit", "verify", "--data-dir", d, "--anchor-file", str(anchors))
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout

    def tampered(sql):
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(d, copy)
        db = sqlite3.connect(copy / "immunis.db")
        for s in sql:
            db.execute(s)
        db.commit()
        db.close()
        return cli("audit", "verify", "--data-dir", str(copy), "--anchor-file", str(anchors), check=False)

    edited = tampered(["UPDATE audit_log SET actor = 'nobody' WHERE seq = 3"])
    assert edited.returncode == 2 and "BROKEN at record 3" in edited.stdout, edited.stdout
    deleted = tampered(["DELETE FROM audit_log WHERE seq = 4"])
    assert deleted.returncode == 2 and "gap" in deleted.stdout, deleted.stdout
    truncated = tampered(["DELETE FROM audit_log WHERE seq > 5", "DELETE FROM audit_anchor"])
    assert truncated.returncode == 2 and "truncated" in truncated.stdout, truncated.stdout
