"""Fixtures for the end-to-end tests: a real `immunis serve` on ports chosen by
the OS, with facilities and a submitter credential registered through the CLI."""
import base64
import hashlib
import hmac
import os
import re
import subprocess
import struct
import tempfile
import time
from pathlib import Path

import pytest

BIN = os.environ.get("IMMUNIS_BIN", str(Path(__file__).resolve().parents[2] / "target/release/immunis"))
SHARED = Path(os.environ.get("IMMUNIS_SHARED", Path(__file__).resolve().parents[3] / "shared"))
MESSAGES = SHARED / "hl7" / "messages"
PASSWORD = "e2e-password-0123456789"


def run_cli(*args, env=None):
    r = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"immunis {' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
    return r


class Server:
    def __init__(self, data_dir, extra_env=None, extra_args=()):
        self.data_dir = data_dir
        env = dict(os.environ, IMMUNIS_LOG="warn", **(extra_env or {}))
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data-dir", data_dir, "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0", *extra_args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )
        deadline = time.time() + 30
        line = ""
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"HTTP on (https?)://([\d.]+):(\d+).*MLLP on ([\d.]+):(\d+)", line)
            if m:
                self.http = f"{m.group(1)}://{m.group(2)}:{m.group(3)}"
                self.mllp_host, self.mllp_port = m.group(4), int(m.group(5))
                return
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"server did not start: {line!r}")

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def register(data_dir):
    for org, code in [("Dabig Clinic System", "DCS"), ("NIST Test Org", "NISTEHRFAC"), ("Immunis E2E", "E2E")]:
        run_cli("facility", "add", "--data-dir", data_dir, "--organization", org, "--code", code, "--name", code)
    env = dict(os.environ, E2E_PW=PASSWORD)
    run_cli("facility", "credential", "--data-dir", data_dir, "--facility", "DCS", "--username", "dcs-ehr",
            "--password-env", "E2E_PW", env=env)


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as d:
        register(d)
        s = Server(d)
        yield s
        s.stop()


@pytest.fixture()
def fresh_data_dir():
    with tempfile.TemporaryDirectory() as d:
        register(d)
        yield d


def read_message(name):
    """A corpus message with CR segment separators."""
    raw = (MESSAGES / name).read_bytes().decode("utf-8", errors="replace")
    return "\r".join(line for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip())


def totp(secret_b32, offset=0):
    """RFC 6238 code (SHA-1, 30 s, 6 digits) for a base32 secret."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", (int(time.time()) + offset) // 30), hashlib.sha1).digest()
    o = mac[19] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def mllp_exchange(client, message):
    """Sends one message on python-hl7's MLLPClient and reads the whole reply:
    its `send_message` returns a single 4 KiB `recv`, shorter than a Z42 for
    a long history, so the rest is read here until MLLP's end block."""
    reply = client.send(b"\x0b" + message.encode(client.encoding) + b"\x1c\r")
    while not reply.endswith(b"\x1c\r"):
        chunk = client.socket.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply.strip(b"\x0b\x1c\r").decode("utf-8", errors="replace")


def segments(reply):
    return [s for s in reply.replace("\n", "\r").split("\r") if s]


def msa(reply):
    for s in segments(reply):
        if s.startswith("MSA|"):
            return s.split("|")[1]
    return None
