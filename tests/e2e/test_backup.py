"""Encrypted online backups: taken while the server ingests over MLLP,
decrypted by an age implementation that is not ours (pyrage), restored and
verified by the CLI; tampering and wrong keys are refused."""
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pyrage
from hl7.client import MLLPClient

from conftest import BIN, Server, msa, run_cli
from test_crash import vxu


def keypair(tmp_path):
    key = tmp_path / "backup-key.txt"
    recipient = run_cli("backup", "keygen", "--identity-file", str(key)).stdout.strip()
    assert recipient.startswith("age1")
    assert key.stat().st_mode & 0o077 == 0, "the identity file must be private"
    return key, recipient


def identity(key):
    line = next(l for l in key.read_text().splitlines() if l.startswith("AGE-SECRET-KEY-"))
    return pyrage.x25519.Identity.from_str(line)


def test_online_backup_is_consistent_and_readable_by_another_age(fresh_data_dir, tmp_path):
    key, recipient = keypair(tmp_path)
    server = Server(fresh_data_dir)
    acked = []
    stop = threading.Event()

    def worker(w):
        n = 0
        with MLLPClient(server.mllp_host, server.mllp_port) as c:
            c.socket.settimeout(10)
            while not stop.is_set():
                cid, msg = vxu(w, n)
                assert msa(c.send_message(msg).decode()) == "AA"
                acked.append(cid)
                n += 1

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        before = len(acked)
        backup = tmp_path / "registry.age"
        out = run_cli("backup", "create", "--data-dir", fresh_data_dir, "--recipient", recipient,
                      "--out", str(backup))
        after = len(acked)
        assert "backup written" in out.stdout
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        server.stop()
    assert before > 20

    plain = pyrage.decrypt(backup.read_bytes(), [identity(key)])
    assert plain[:16] == b"SQLite format 3\x00"
    restored_db = tmp_path / "plain.db"
    restored_db.write_bytes(plain)
    con = sqlite3.connect(restored_db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    journaled = {r[0] for r in con.execute("SELECT message_control_id FROM message_journal WHERE outcome='AA'")}
    # Everything acknowledged before the backup started is in it; nothing
    # acknowledged after it finished can be (the snapshot is one transaction).
    assert set(acked[:before]) <= journaled
    assert len(journaled) <= after
    # Each journaled message's doses are there too: a consistent cut.
    doses = con.execute("SELECT COUNT(*) FROM vaccination_event WHERE status='active'").fetchone()[0]
    assert doses == 2 * len(journaled)
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert "backup_snapshot" in actions
    con.close()

    # The live registry's audit trail says where the encrypted copy went.
    live = sqlite3.connect(Path(fresh_data_dir) / "immunis.db")
    detail = live.execute("SELECT detail FROM audit_log WHERE action='backup_written'").fetchone()[0]
    live.close()
    assert "sha256" in detail and str(backup) in detail

    # Restore through the CLI into a new directory and serve from it.
    target = tmp_path / "restored"
    out = run_cli("backup", "restore", "--identity-file", str(key), "--from", str(backup),
                  "--data-dir", str(target))
    assert "audit trail intact" in out.stdout
    assert f"{doses} vaccination events" in out.stdout
    again = subprocess.run([BIN, "backup", "restore", "--identity-file", str(key), "--from", str(backup),
                            "--data-dir", str(target)], capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already holds a database" in again.stderr
    verify = run_cli("backup", "verify", "--identity-file", str(key), "--from", str(backup))
    assert "audit trail intact" in verify.stdout


def test_tampered_or_foreign_backups_are_refused(fresh_data_dir, tmp_path):
    key, recipient = keypair(tmp_path)
    backup = tmp_path / "b.age"
    run_cli("backup", "create", "--data-dir", fresh_data_dir, "--recipient", recipient, "--out", str(backup))
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "tampered.age"
    tampered.write_bytes(bytes(data))
    r = subprocess.run([BIN, "backup", "verify", "--identity-file", str(key), "--from", str(tampered)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "damaged" in r.stderr

    other = tmp_path / "other"
    other.mkdir()
    other_key, _ = keypair(other)
    r = subprocess.run([BIN, "backup", "verify", "--identity-file", str(other_key), "--from", str(backup)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "cannot decrypt" in r.stderr

    # A plaintext file is not a backup; an existing output is never overwritten.
    r = subprocess.run([BIN, "backup", "verify", "--identity-file", str(key), "--from",
                        str(Path(fresh_data_dir) / "immunis.db")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "not an age-encrypted backup" in r.stderr
    r = subprocess.run([BIN, "backup", "create", "--data-dir", fresh_data_dir, "--recipient", recipient,
                        "--out", str(backup)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "never overwrites" in r.stderr
    leftovers = [p.name for p in Path(fresh_data_dir).iterdir() if p.name.startswith("backup-snapshot")]
    assert leftovers == [], "the plaintext snapshot must not outlive the backup"
