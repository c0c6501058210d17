"""The same server on the PostgreSQL backend (the test script's throwaway
cluster): registration through the CLI, VXU over MLLP, QBP Z34/Z44 back."""
import os
import subprocess
import uuid

import pytest
from hl7.client import MLLPClient

from conftest import BIN, PASSWORD, mllp_exchange, msa, read_message, run_cli, segments

PG = os.environ.get("IMMUNIS_TEST_PG")


@pytest.fixture()
def pg_url():
    if not PG:
        pytest.skip("IMMUNIS_TEST_PG not set: run through scripts/test.sh for PostgreSQL")
    db = "e2e_" + uuid.uuid4().hex[:10]
    subprocess.run(["psql", f"{PG} dbname=postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
    yield f"{PG} dbname={db}"


def test_vxu_and_query_on_postgres(pg_url):
    run_cli("facility", "add", "--database-url", pg_url, "--organization", "Dabig Clinic System", "--code", "DCS", "--name", "DCS")
    env = dict(os.environ, E2E_PW=PASSWORD)
    run_cli("facility", "credential", "--database-url", pg_url, "--facility", "DCS", "--username", "dcs-ehr",
            "--password-env", "E2E_PW", env=env)
    import re
    import time
    proc = subprocess.Popen([BIN, "serve", "--database-url", pg_url, "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, IMMUNIS_LOG="warn"))
    try:
        deadline = time.time() + 30
        m = None
        while time.time() < deadline and not m:
            m = re.search(r"MLLP on ([\d.]+):(\d+)", proc.stderr.readline())
        assert m, "server did not start"
        with MLLPClient(m.group(1), int(m.group(2))) as c:
            reply = c.send_message(read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7")).decode()
            assert msa(reply) == "AA", reply
            q = "\r".join([
                "MSH|^~\\&|MYEHR|DCS|IMMUNIS||20240101||QBP^Q11^QBP_Q11|QPG1|P|2.5.1|||ER|AL|||||Z44^CDCPHINVS",
                "QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|PGTAG|432155^^^dcs^MR|Patient^Johnny^New^^^^L||20110411|M",
                "RCP|I|5^RD&records&HL70126",
            ])
            reply = mllp_exchange(c, q)
            assert msa(reply) == "AA", reply[:400]
            assert any(s.startswith("QAK|PGTAG|OK") for s in segments(reply))
            assert sum(1 for s in segments(reply) if s.startswith("RXA|")) >= 4  # 3 doses + forecast RXA 998
    finally:
        proc.terminate()
        proc.wait(timeout=10)
