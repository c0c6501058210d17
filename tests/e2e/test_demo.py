"""The newcomer's path (issue 20, "the first ten minutes"): `serve --demo`
prints, with the addresses it really listens on, ready demo logins (nurse,
school nurse) with their TOTP secrets, the administrator's bootstrap line,
a curl line for the sample VXU shipped in `examples/`, people to search for
and the development code outbox; every printed credential works, and a
restart prints the same ones."""
import base64
import re
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from conftest import BIN, totp

ROOT = Path(__file__).resolve().parents[2]


def start_demo(data_dir):
    proc = subprocess.Popen([BIN, "serve", "--demo", "--data-dir", data_dir, "--http", "127.0.0.1:0",
                             "--mllp", "127.0.0.1:0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    text, deadline = "", time.time() + 240
    while time.time() < deadline:
        line = proc.stderr.readline()
        text += line
        if "immunis: serving" in line or proc.poll() is not None:
            break
    m = re.search(r"HTTP on (http://[\d.]+:\d+)", text)
    assert m, text
    return proc, m.group(1), text


def test_serve_demo_prints_working_logins_for_every_role(tmp_path):
    data = str(tmp_path / "demo")
    proc, http, text = start_demo(data)
    try:
        assert f"provider portal:  {http}/portal" in text, text
        assert "8080" not in http or "127.0.0.1:8080" in text
        logins = re.findall(r"(demo-[a-z-]+) / (\S+), TOTP secret ([A-Z2-7]+) \(code: oathtool --totp -b \3\)", text)
        assert {u for u, _, _ in logins} == {"demo-nurse", "demo-school-nurse"}, text
        for user, password, secret in logins:
            body = urllib.parse.urlencode({"username": user, "password": password, "totp": totp(secret)}).encode()
            with urllib.request.urlopen(f"{http}/session", data=body, timeout=10) as r:
                assert r.status == 200
        assert "immunis admin bootstrap --data-dir" in text
        assert re.search(r"search for: .+\(born \d{4}-\d{2}-\d{2}\).*or a typo: \S+", text), text
        assert "code-outbox" in text
        # The curl line's sample message is shipped and accepted.
        m = re.search(r"curl -u (\S+):(\S+) --data-binary @(\S+) (\S+/hl7)", text)
        assert m, text
        sample = ROOT / m.group(3)
        assert sample.is_file(), sample
        req = urllib.request.Request(m.group(4), data=sample.read_bytes(), method="POST")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{m.group(1)}:{m.group(2)}".encode()).decode())
        with urllib.request.urlopen(req, timeout=30) as r:
            assert "MSA|AA" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # A restart keeps the demo and prints the same logins.
    proc, _, again = start_demo(data)
    try:
        assert "loaded 500 synthetic people" not in again
        assert re.findall(r"TOTP secret ([A-Z2-7]+)", again) == [s for _, _, s in logins]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
