"""Durability: kill -9 the server during sustained MLLP ingest, restart it, and
show that every acknowledged dose is present and nothing was applied twice."""
import sqlite3
import threading
import time
from pathlib import Path

from hl7.client import MLLPClient

from conftest import Server, msa

WORKERS = 8


def vxu(worker, n):
    cid = f"W{worker}N{n}"
    return cid, "\r".join([
        f"MSH|^~\\&|E2EEHR|E2E|IMMUNIS||20240101120000||VXU^V04^VXU_V04|{cid}|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS",
        f"PID|1||MRN-{cid}^^^E2E^MR||Crashtest{worker}^Kid{n}^^^^^L||20200115|F",
        f"ORC|RE||ORD-{cid}-1^E2E",
        "RXA|0|1|20200315||20^DTaP^CVX|0.5|mL^^UCUM||00^New admin^NIP001|||||||LOT1|20251231|SKB^GSK^MVX|||CP|A",
        f"ORC|RE||ORD-{cid}-2^E2E",
        "RXA|0|1|20200315||10^IPV^CVX|0.5|mL^^UCUM||00^New admin^NIP001|||||||LOT2|20251231|PMC^sanofi^MVX|||CP|A",
    ])


def test_kill_9_during_ingest_loses_nothing_acknowledged(fresh_data_dir):
    server = Server(fresh_data_dir)
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def worker(w):
        n = 0
        try:
            with MLLPClient(server.mllp_host, server.mllp_port) as c:
                c.socket.settimeout(10)
                while not stop.is_set():
                    cid, msg = vxu(w, n)
                    reply = c.send_message(msg).decode()
                    if msa(reply) == "AA":
                        with lock:
                            acked[cid] = msg
                    n += 1
        except Exception:
            pass  # the server died under us: expected

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    time.sleep(3)
    server.kill()  # SIGKILL while messages are in flight
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 100, f"too little traffic before the kill: {len(acked)}"

    db = Path(fresh_data_dir) / "immunis.db"
    # Restart on the same data: recovery must succeed and keep every acked dose.
    server2 = Server(fresh_data_dir)
    try:
        con = sqlite3.connect(db)
        active = con.execute(
            "SELECT filler_order_number, COUNT(*) FROM vaccination_event WHERE status='active' GROUP BY facility_code, filler_order_number"
        ).fetchall()
        counts = dict(active)
        for cid in acked:
            for k in (1, 2):
                assert counts.get(f"ORD-{cid}-{k}") == 1, f"acknowledged dose ORD-{cid}-{k} missing or duplicated"
        assert all(c == 1 for c in counts.values()), "a dose was applied twice"
        journaled = {r[0] for r in con.execute("SELECT message_control_id FROM message_journal WHERE outcome = 'AA'")}
        assert set(acked) <= journaled, "an acknowledged message is missing from the journal"
        con.close()

        # Re-sending everything that was acknowledged applies nothing twice.
        sample = list(acked.items())[:200]
        with MLLPClient(server2.mllp_host, server2.mllp_port) as c:
            for cid, msg in sample:
                assert msa(c.send_message(msg).decode()) == "AA"
        con = sqlite3.connect(db)
        dup = con.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM vaccination_event WHERE status='active' GROUP BY facility_code, filler_order_number HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        assert dup == 0
        people = con.execute("SELECT COUNT(*) FROM patient").fetchone()[0]
        assert people == len(counts) // 2, "re-sent messages must not create new people"
        con.close()
    finally:
        server2.stop()
