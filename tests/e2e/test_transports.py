"""The registry driven over MLLP, SOAP and HTTP by real clients from other
projects: python-hl7's `mllp_send` and MLLPClient, hl7apy as an independent
structural check, and plain urllib for SOAP/HTTP."""
import base64
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hl7.client import MLLPClient
from hl7apy.parser import parse_message

from conftest import MESSAGES, PASSWORD, msa, read_message, segments


def send_mllp(server, message):
    with MLLPClient(server.mllp_host, server.mllp_port) as c:
        return c.send_message(message).decode("utf-8", errors="replace")


def test_mllp_send_cli_gets_aa_for_ig_example_001(server, tmp_path):
    # python-hl7's own command-line client, reading an MLLP stream file.
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7")
    stream = tmp_path / "in.mllp"
    stream.write_bytes(b"\x0b" + msg.encode() + b"\x1c\x0d")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "mllp_send"),
         "--file", str(stream), "--port", str(server.mllp_port), server.mllp_host],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "MSA|AA|45646ug" in out.stdout.replace("\n", "\r")


def test_ack_is_structurally_valid_for_hl7apy(server):
    reply = send_mllp(server, read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7"))
    parsed = parse_message(reply.replace("\n", "\r").strip(), find_groups=False)
    assert parsed.msh.msh_9.to_er7().startswith("ACK")
    assert parsed.msa.msa_1.to_er7() == "AA"
    assert parsed.msa.msa_2.to_er7() == "45646ug"


def test_unsupported_version_is_rejected_with_err_203(server):
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7").replace("|P|2.5.1|", "|P|2.2|", 1)
    reply = send_mllp(server, msg)
    assert msa(reply) == "AR"
    errs = [s for s in segments(reply) if s.startswith("ERR|")]
    assert any("203" in e.split("|")[3] for e in errs), errs


def test_missing_pid_is_rejected(server):
    msg = "\r".join(s for s in read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7").split("\r")
                    if not s.startswith("PID"))
    reply = send_mllp(server, msg)
    assert msa(reply) in ("AE", "AR")
    assert any(s.startswith("ERR|") for s in segments(reply))


def test_unregistered_facility_is_rejected(server):
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7").replace("|MYEHR|DCS|", "|MYEHR|NOSUCHFAC|", 1)
    reply = send_mllp(server, msg)
    assert msa(reply) == "AR"
    assert "not registered" in reply


def test_every_corpus_message_gets_an_answer_and_server_survives(server):
    # The whole corpus, malformed files included: each gets an MSA, no hang, no crash.
    names = sorted(p.name for p in MESSAGES.iterdir() if p.is_file())
    assert len(names) > 100
    with MLLPClient(server.mllp_host, server.mllp_port) as c:
        for name in names:
            raw = (MESSAGES / name).read_bytes()
            text = raw.decode("utf-8", errors="replace").replace("\r\n", "\r").replace("\n", "\r")
            text = text.replace("\x0b", "").replace("\x1c", "")
            if "MSH" not in text:
                text = "MSH|" + text  # still must be answered, never crash
            c.socket.settimeout(30)
            reply = c.send_message(text).decode("utf-8", errors="replace")
            assert msa(reply) in ("AA", "AE", "AR"), (name, reply[:300])
    # still alive
    assert msa(send_mllp(server, read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7"))) == "AA"


def test_garbage_and_partial_frames_do_not_hang(server):
    s = socket.create_connection((server.mllp_host, server.mllp_port), timeout=10)
    s.sendall(b"\x00\xff garbage without framing \x1c\x0d")
    s.sendall(b"\x0bMSH|^~\\&|A|DCS|B|C|20200101||VXU^V04^VXU_V04|X1|P|2.5.1\r\x1c\x0d")
    data = b""
    while b"\x1c\x0d" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed without a reply"
        data += chunk
    assert b"MSA|" in data
    s.close()


def soap(server, body, action="urn:cdc:iisb:2011:submitSingleMessage"):
    req = urllib.request.Request(
        server.http + "/soap", data=body.encode(),
        headers={"Content-Type": f'application/soap+xml;charset=UTF-8;action="{action}"'},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def envelope(inner, header=""):
    return ('<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:urn="urn:cdc:iisb:2011">'
            f"<soap:Header>{header}</soap:Header><soap:Body>{inner}</soap:Body></soap:Envelope>")


def submit(user, password, msg, facility="DCS"):
    return envelope(f"<urn:submitSingleMessage><urn:username>{user}</urn:username><urn:password>{password}</urn:password>"
                    f"<urn:facilityID>{facility}</urn:facilityID><urn:hl7Message><![CDATA[{msg}]]></urn:hl7Message>"
                    "</urn:submitSingleMessage>")


def test_soap_connectivity_and_wsdl(server):
    status, body = soap(server, envelope("<urn:connectivityTest><urn:echoBack>ping</urn:echoBack></urn:connectivityTest>"),
                        "urn:cdc:iisb:2011:connectivityTest")
    assert status == 200 and "<return>ping</return>" in body
    with urllib.request.urlopen(server.http + "/soap?wsdl", timeout=10) as r:
        wsdl = r.read().decode()
    assert "submitSingleMessage" in wsdl and server.http + "/soap" in wsdl


def test_soap_submit_with_body_credentials_and_lf_line_ends(server):
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7").replace("\r", "\n")
    status, body = soap(server, submit("dcs-ehr", PASSWORD, msg))
    assert status == 200, body
    assert "MSA|AA|45646ug" in body


def test_soap_wssecurity_username_token(server):
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7")
    token = ('<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
             f"<wsse:UsernameToken><wsse:Username>dcs-ehr</wsse:Username><wsse:Password>{PASSWORD}</wsse:Password>"
             "</wsse:UsernameToken></wsse:Security>")
    inner = ("<urn:submitSingleMessage><urn:facilityID>DCS</urn:facilityID>"
             f"<urn:hl7Message><![CDATA[{msg}]]></urn:hl7Message></urn:submitSingleMessage>")
    status, body = soap(server, envelope(inner, token))
    assert status == 200 and "MSA|AA" in body


def test_soap_security_fault_and_too_large_fault(server):
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7")
    status, body = soap(server, submit("dcs-ehr", "wrong-password", msg))
    assert status >= 400 and "SecurityFault" in body and "<Code>10</Code>" in body
    status, body = soap(server, submit("dcs-ehr", PASSWORD, msg + "\r" + msg))
    assert status >= 400 and "MessageTooLargeFault" in body
    status, body = soap(server, submit("dcs-ehr", PASSWORD, msg, facility="NISTEHRFAC"))
    assert status >= 400 and "SecurityFault" in body


def test_http_post_hl7_basic_auth(server):
    msg = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7")
    auth = base64.b64encode(f"dcs-ehr:{PASSWORD}".encode()).decode()
    req = urllib.request.Request(server.http + "/hl7", data=msg.encode(), headers={"Authorization": "Basic " + auth})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert msa(r.read().decode()) == "AA"
    bad = urllib.request.Request(server.http + "/hl7", data=msg.encode())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=30)
    assert e.value.code == 401
    assert e.value.headers["Content-Type"].startswith("application/problem+json")
    # MSH-4 of another facility: not accepted for these credentials.
    other = msg.replace("|MYEHR|DCS|", "|MYEHR|NISTEHRFAC|", 1)
    req = urllib.request.Request(server.http + "/hl7", data=other.encode(), headers={"Authorization": "Basic " + auth})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert msa(r.read().decode()) == "AR"


def batch_of_two():
    one = read_message("001_vxu_cdc-ig-vxu-z22-historical-plus-2-admin.hl7").strip("\r")
    msgs = [one.replace("|45646ug|", f"|BATCH-{i}|", 1) for i in (1, 2)]
    return "\r".join([
        "FHS|^~\\&|MYEHR|DCS||IIS|20240101120000||batch.txt||FILE-77",
        "BHS|^~\\&|MYEHR|DCS||IIS|20240101120000||||BATCH-77",
        *msgs,
        "BTS|2",
        "FTS|1",
    ]) + "\r"


def check_batch_reply(reply):
    reply = reply.strip("\x0b\x1c\r\n")  # MLLPClient hands back the frame bytes
    segs = [s for s in reply.replace("\n", "\r").split("\r") if s]
    assert segs[0].startswith("FHS|") and segs[0].split("|")[11] == "FILE-77", segs[0]
    assert segs[1].startswith("BHS|") and segs[1].split("|")[11] == "BATCH-77", segs[1]
    assert segs[-2:] == ["BTS|2", "FTS|1"]
    acks = "\r".join(segs[2:-2]).split("\rMSH|")
    assert len(acks) == 2
    for i, ack in enumerate(acks, start=1):
        ack = ack if ack.startswith("MSH|") else "MSH|" + ack
        parsed = parse_message(ack, find_groups=False)  # an independent parser reads each ACK
        assert parsed.msa.msa_1.to_er7() == "AA"
        assert parsed.msa.msa_2.to_er7() == f"BATCH-{i}"


def test_fhs_bhs_batch_gets_a_batch_of_acks_over_mllp_and_http(server):
    check_batch_reply(send_mllp(server, batch_of_two()))
    auth = base64.b64encode(f"dcs-ehr:{PASSWORD}".encode()).decode()
    req = urllib.request.Request(server.http + "/hl7", data=batch_of_two().encode(),
                                 headers={"Authorization": "Basic " + auth})
    with urllib.request.urlopen(req, timeout=30) as r:
        check_batch_reply(r.read().decode())
