"""The official record (PDF), the SMART Health Card and "My immunization
record", end to end against the real binary, checked by implementations that
are not ours: the card's ES256 JWS is verified with `jwcrypto` against the
registry's `/.well-known/jwks.json`, its payload inflated with zlib (raw
DEFLATE) and read as FHIR R4; the PDF is rendered with `pdftoppm` (poppler)
and its QR code decoded with `zxing-cpp`, and that card is verified too. The
consumer flow requests a code, reads it from the outbox directory, views the
record and downloads both documents; non-matching details get the identical
answer (same page, same status, comparable time, nothing sent) and repeated
requests are rate-limited."""
import glob
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import zlib

import pytest
from jwcrypto import jwk, jws

from conftest import BIN, Server, register, run_cli

CVX = ["08", "20", "10", "49", "133", "116", "20", "10", "49", "133", "03", "21", "83"]
BIRTH = "20180314"


def vxu():
    segs = [
        "MSH|^~\\&|E2EEHR|E2E|IMMUNIS||20240101120000||VXU^V04^VXU_V04|DOC1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS",
        "PID|1||MRN-DOC1^^^E2E^MR||Documenta^Zoe^Ann^^^^L||" + BIRTH + "|F|||1 Main St^^Springfield^MA^01101^USA^L||"
        "^PRN^PH^^^617^5550142~^NET^Internet^Parent.Documenta@Example.org",
    ]
    day = 0
    for i, cvx in enumerate(CVX):
        date = time.strftime("%Y%m%d", time.gmtime(time.mktime(time.strptime(BIRTH, "%Y%m%d")) + 86400 * (1 + day)))
        day += 70 if i < 10 else 10
        segs.append(f"ORC|RE||ORD-DOC1-{i}^E2E")
        segs.append(f"RXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^^UCUM||00^New admin^NIP001||||||LOT{i:03d}||SKB^GSK^MVX|||CP|A")
    return "\r".join(segs) + "\r"


def inflate(b64):
    raw = b64 + "=" * (-len(b64) % 4)
    import base64
    return zlib.decompress(base64.urlsafe_b64decode(raw), -15)


def verify_card(compact, jwks_text, iss):
    """Verifies the JWS against the published keys (jwcrypto) and returns the payload."""
    keys = jwk.JWKSet.from_json(jwks_text)
    token = jws.JWS()
    token.deserialize(compact)
    header = token.jose_header
    assert header["alg"] == "ES256" and header["zip"] == "DEF", header
    key = keys.get_key(header["kid"])
    assert key is not None, f"kid {header['kid']} not in the JWKS"
    # RFC 7638: the kid is the key's thumbprint.
    assert key.thumbprint() == header["kid"]
    token.verify(key, alg="ES256")
    payload = json.loads(inflate(compact.split(".")[1]))
    assert payload["iss"] == iss
    assert abs(payload["nbf"] - time.time()) < 600
    return payload, header["kid"]


def check_fhir(payload):
    bundle = payload["vc"]["credentialSubject"]["fhirBundle"]
    assert payload["vc"]["credentialSubject"]["fhirVersion"] == "4.0.1"
    assert "https://smarthealth.cards#health-card" in payload["vc"]["type"]
    entries = bundle["entry"]
    patient = entries[0]["resource"]
    assert patient["resourceType"] == "Patient"
    assert patient["birthDate"] == "2018-03-14"
    assert patient["name"][0]["family"] == "Documenta"
    imms = [e["resource"] for e in entries[1:]]
    assert imms and all(r["resourceType"] == "Immunization" and r["status"] == "completed" for r in imms)
    for r in imms:
        coding = r["vaccineCode"]["coding"][0]
        assert coding["system"] == "http://hl7.org/fhir/sid/cvx"
        assert r["patient"]["reference"] == "resource:0"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["occurrenceDateTime"])
    codes = {r["vaccineCode"]["coding"][0]["code"] for r in imms}
    assert codes <= set(CVX) and {"03", "08", "83"} <= codes, codes
    # Varicella 10 days after MMR is a live-virus conflict (CDSi): not a valid
    # dose, so neither the card nor the PDF lists it.
    assert "21" not in codes
    return imms


def request(base, method, path, body=None, headers=None):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {})
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    c.close()
    return out


def qr_from_pdf(pdf_bytes, tmp):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is missing (install poppler-utils): the PDF's QR code was NOT checked")
    import zxingcpp
    from PIL import Image
    path = os.path.join(tmp, "record.pdf")
    with open(path, "wb") as f:
        f.write(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "150", "-png", path, os.path.join(tmp, "page")], check=True, timeout=60)
    pages = sorted(glob.glob(os.path.join(tmp, "page*.png")))
    assert len(pages) == 1, "a typical record fits one page"
    found = zxingcpp.read_barcodes(Image.open(pages[0]))
    texts = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(texts) == 1, texts
    text = texts[0]
    assert text.startswith("shc:/")
    digits = text[5:]
    return "".join(chr(int(digits[i:i + 2]) + 45) for i in range(0, len(digits), 2))


@pytest.fixture(scope="module")
def registry():
    with tempfile.TemporaryDirectory() as d:
        register(d)
        msg = os.path.join(d, "doc1.hl7")
        with open(msg, "w") as f:
            f.write(vxu())
        run_cli("import", "--data-dir", d, msg)
        out = run_cli("client", "add", "--data-dir", d, "--client-id", "docs-ehr", "--organization", "Immunis E2E").stdout
        secret = re.search(r"secret \(shown once\): (\S+)", out).group(1)
        outbox = os.path.join(d, "outbox")
        s = Server(d, extra_args=["--code-outbox", outbox, "--registry-name", "Commonwealth Immunization Registry (e2e)"])
        status, _, body = request(s.http, "POST", "/oauth/token",
                                  {"grant_type": "client_credentials", "client_id": "docs-ehr", "client_secret": secret})
        assert status == 200, body
        s.token = json.loads(body)["access_token"]
        s.outbox = outbox
        yield s
        s.stop()


def auth(s):
    return {"Authorization": f"Bearer {s.token}"}


def test_a_fresh_registry_publishes_its_signing_key_before_any_card(fresh_data_dir):
    """Verifiers fetch and cache the issuer's key set: it must not be empty
    until the first card is issued (issue 15)."""
    s = Server(fresh_data_dir)
    try:
        status, _, body = request(s.http, "GET", "/.well-known/jwks.json")
        assert status == 200
        keys = json.loads(body)["keys"]
        assert len(keys) == 1 and keys[0]["kty"] == "EC" and keys[0]["kid"], keys
        # The same key after a restart: a new key is made only when none exists.
        s.stop()
        s = Server(fresh_data_dir)
        status, _, again = request(s.http, "GET", "/.well-known/jwks.json")
        assert json.loads(again)["keys"] == keys
    finally:
        s.stop()


def test_card_verifies_against_jwks_and_pdf_qr_is_the_same_card(registry, tmp_path):
    s = registry
    status, h, body = request(s.http, "GET", "/api/v0/patients/1/record.smart-health-card", headers=auth(s))
    assert status == 200, body
    assert h["content-type"] == "application/smart-health-card"
    card = json.loads(body)["verifiableCredential"][0]
    status, h, jwks_text = request(s.http, "GET", "/.well-known/jwks.json")
    assert status == 200 and h["access-control-allow-origin"] == "*"
    payload, kid = verify_card(card, jwks_text, s.http)
    imms = check_fhir(payload)
    assert any(r.get("lotNumber", "").startswith("LOT") for r in imms)
    assert all(r["performer"][0]["actor"]["display"] for r in imms)

    status, h, pdf = request(s.http, "GET", "/api/v0/patients/1/record.pdf", headers=auth(s))
    assert status == 200 and h["content-type"] == "application/pdf" and pdf.startswith(b"%PDF-")
    scanned = qr_from_pdf(pdf, str(tmp_path))
    payload2, kid2 = verify_card(scanned, jwks_text, s.http)
    assert kid2 == kid
    check_fhir(payload2)

    # No token, a bad token, a person who does not exist: no document.
    assert request(s.http, "GET", "/api/v0/patients/1/record.pdf")[0] == 401
    assert request(s.http, "GET", "/api/v0/patients/1/record.pdf", headers={"Authorization": "Bearer nope"})[0] == 401
    assert request(s.http, "GET", "/api/v0/patients/999/record.smart-health-card", headers=auth(s))[0] == 404


def test_rotation_keeps_old_cards_verifiable(registry):
    s = registry
    _, _, body = request(s.http, "GET", "/api/v0/patients/1/record.smart-health-card", headers=auth(s))
    old_card = json.loads(body)["verifiableCredential"][0]
    out = run_cli("key", "rotate", "--data-dir", s.data_dir).stdout
    new_kid = re.search(r"new active signing key (\S+)", out).group(1)
    _, _, jwks_text = request(s.http, "GET", "/.well-known/jwks.json")
    kids = [k["kid"] for k in json.loads(jwks_text)["keys"]]
    assert new_kid in kids and len(kids) >= 2
    _, old_kid = verify_card(old_card, jwks_text, s.http)
    assert old_kid != new_kid
    _, _, body = request(s.http, "GET", "/api/v0/patients/1/record.smart-health-card", headers=auth(s))
    _, kid = verify_card(json.loads(body)["verifiableCredential"][0], jwks_text, s.http)
    assert kid == new_kid
    listing = run_cli("key", "list", "--data-dir", s.data_dir).stdout
    assert f"{new_kid}\tactive" in listing


def outbox_files(s):
    return sorted(glob.glob(os.path.join(s.outbox, "*.json")))


def ask(s, given, family, dob, contact):
    t = time.monotonic()
    status, _, body = request(s.http, "POST", "/my-record/request",
                              {"given": given, "family": family, "birth_date": dob, "contact": contact})
    return status, body.decode(), time.monotonic() - t


def handle_of(page):
    return re.search(r'name="handle" value="([0-9a-f]+)"', page).group(1)


def test_my_record_flow_no_leak_and_rate_limit(registry, tmp_path):
    s = registry
    before = outbox_files(s)
    status, page, took = ask(s, "Zoe", "DOCUMENTA", "2018-03-14", "parent.documenta@example.ORG")
    assert status == 200 and "If the details match a record, we sent a one-time code" in page
    # Non-matching details: wrong contact, unknown person, wrong birth date.
    others = [ask(s, "Zoe", "Documenta", "2018-03-14", "someone.else@example.org"),
              ask(s, "Nobody", "Atall", "2011-01-01", "617-555-0142"),
              ask(s, "Zoe", "Documenta", "2018-03-15", "(617) 555-0142")]
    for st, pg, t in others:
        assert st == status
        assert pg.replace(handle_of(pg), "H") == page.replace(handle_of(page), "H"), "identical answer"
        assert t >= 0.6 and abs(t - took) < 0.5, (t, took)
    deadline = time.time() + 10
    while len(outbox_files(s)) == len(before) and time.time() < deadline:
        time.sleep(0.1)
    new = [f for f in outbox_files(s) if f not in before]
    assert len(new) == 1, "exactly one code sent (the matching request only)"
    msg = json.load(open(new[0]))
    assert msg["channel"] == "email" and msg["to"].lower() == "parent.documenta@example.org"
    code = re.search(r"\b(\d{6})\b", msg["body"]).group(1)

    handle = handle_of(page)
    wrong = "000000" if code != "000000" else "111111"
    st, _, _ = request(s.http, "POST", "/my-record/verify", {"handle": handle, "code": wrong})
    assert st == 401
    # A code for a request that matched nobody fails the same way.
    st, _, _ = request(s.http, "POST", "/my-record/verify", {"handle": handle_of(others[0][1]), "code": code})
    assert st == 401
    st, h, _ = request(s.http, "POST", "/my-record/verify", {"handle": handle, "code": code})
    assert st == 303 and h["location"] == "/my-record/view", (st, h)
    cookie = h["set-cookie"].split(";")[0]
    assert "HttpOnly" in h["set-cookie"] and "SameSite=Strict" in h["set-cookie"]
    # Single use.
    assert request(s.http, "POST", "/my-record/verify", {"handle": handle, "code": code})[0] == 401

    st, _, view = request(s.http, "GET", "/my-record/view", headers={"Cookie": cookie})
    assert st == 200 and b"Documenta" in view and b"record.smart-health-card" in view
    st, h, card = request(s.http, "GET", "/my-record/record.smart-health-card", headers={"Cookie": cookie})
    assert st == 200 and h["content-type"] == "application/smart-health-card"
    _, _, jwks_text = request(s.http, "GET", "/.well-known/jwks.json")
    payload, _ = verify_card(json.loads(card)["verifiableCredential"][0], jwks_text, s.http)
    check_fhir(payload)
    st, h, pdf = request(s.http, "GET", "/my-record/record.pdf", headers={"Cookie": cookie})
    assert st == 200 and pdf.startswith(b"%PDF-")
    payload, _ = verify_card(qr_from_pdf(pdf, str(tmp_path)), jwks_text, s.http)
    check_fhir(payload)
    # Without the cookie, nothing.
    assert request(s.http, "GET", "/my-record/view")[0] == 401
    assert request(s.http, "GET", "/my-record/record.pdf", headers={"Cookie": "immunis_my_record=bogus"})[0] == 401
    # Sign out ends the session.
    st, _, _ = request(s.http, "POST", "/my-record/logout", headers={"Cookie": cookie})
    assert st == 303
    assert request(s.http, "GET", "/my-record/view", headers={"Cookie": cookie})[0] == 401

    # The same details asked for too often: refused (whether or not they match).
    codes = [ask(s, "Rate", "Limited", "2015-05-05", "rate@example.org")[0] for _ in range(4)]
    assert codes == [200, 200, 200, 429], codes

    # Every request, code and record view is in the audit trail.
    out = run_cli("audit", "disclosures", "--data-dir", s.data_dir, "--patient", "1").stdout
    assert "consumer:" in out and "issue_record_document" in out, out
