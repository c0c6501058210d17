"""QBP^Q11 queries over MLLP: Z34 → RSP Z32 (history), Z33 (not found / too
many / error), Z44 → RSP Z42 (evaluated history + CDSi forecast); the query
tag is echoed; hl7apy parses every RSP."""
from hl7.client import MLLPClient
from hl7apy.parser import parse_message

from conftest import mllp_exchange, msa, read_message, segments


def send(server, message):
    with MLLPClient(server.mllp_host, server.mllp_port) as c:
        return mllp_exchange(c, message)


def qak(reply):
    for s in segments(reply):
        if s.startswith("QAK|"):
            return s.split("|")
    return None


def qbp(profile, tag, qpd_tail, limit=5):
    name = {"Z34": "Request Immunization History", "Z44": "Request Evaluated History and Forecast"}[profile]
    return "\r".join([
        f"MSH|^~\\&|MYEHR|DCS|IMMUNIS||20240101||QBP^Q11^QBP_Q11|Q{tag}|P|2.5.1|||ER|AL|||||{profile}^CDCPHINVS",
        f"QPD|{profile}^{name}^CDCPHINVS|{tag}|{qpd_tail}",
        f"RCP|I|{limit}^RD&records&HL70126",
    ])


def load_patient(server):
    assert msa(send(server, read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7"))) == "AA"


def test_z34_by_identifier_returns_history(server):
    load_patient(server)
    reply = send(server, qbp("Z34", "TAG1", "432155^^^dcs^MR|Patient^Johnny^New^^^^L||20110411|M"))
    assert msa(reply) == "AA"
    q = qak(reply)
    assert q[1] == "TAG1" and q[2] == "OK"
    assert "Z32" in segments(reply)[0]
    rxa = [s for s in segments(reply) if s.startswith("RXA|")]
    assert len(rxa) == 3, rxa
    parse_message(reply.replace("\n", "\r").strip(), find_groups=False)


def test_z34_not_found_and_missing_tag(server):
    reply = send(server, qbp("Z34", "TAG2", "NOPE^^^dcs^MR|Nobody^None^^^^^L||19000101|F"))
    q = qak(reply)
    assert q[1] == "TAG2" and q[2] == "NF"
    bad = qbp("Z34", "", "|Patient^Johnny^^^^^L||20110411|M")
    reply = send(server, bad)
    assert msa(reply) in ("AE", "AR")
    assert any(s.startswith("ERR|") for s in segments(reply))


def test_z44_returns_evaluations_and_forecast(server):
    load_patient(server)
    reply = send(server, qbp("Z44", "TAG3", "432155^^^dcs^MR|Patient^Johnny^New^^^^L||20110411|M"))
    assert msa(reply) == "AA", reply[:500]
    assert "Z42" in segments(reply)[0]
    obx = [s for s in segments(reply) if s.startswith("OBX|")]
    loincs = {s.split("|")[3].split("^")[0] for s in obx}
    for code in ("30956-7", "59779-9", "30980-7", "30981-5", "59783-1", "59781-5"):
        assert code in loincs, (code, sorted(loincs))
    assert any("|998^" in s for s in segments(reply) if s.startswith("RXA|")), "forecast under RXA 998"
    parse_message(reply.replace("\n", "\r").strip(), find_groups=False)
