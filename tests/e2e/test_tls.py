"""TLS from the operator's seat, with certificates made by the openssl CLI:
`immunis serve --tls-cert/--tls-key` serves HTTPS; `--mllp-tls-cert/
--mllp-tls-key/--mllp-client-ca` serves MLLP over TLS where a client
certificate is required and, registered with `immunis facility certificate`,
names the facility — MSH-4 must match it; no certificate, no session."""
import json
import shutil
import socket
import ssl
import subprocess
import urllib.request

import pytest

from conftest import Server, msa, run_cli

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd, timeout=60)


def make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Immunis E2E CA",
            "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, cn, ext in [("server", "localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n"),
                          ("client", "E2E", "extendedKeyUsage=clientAuth\n")]:
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        (d / f"{name}.ext").write_text(ext)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


def vxu(facility, cid):
    return "\r".join([
        f"MSH|^~\\&|E2EEHR|{facility}|IMMUNIS||20240101120000||VXU^V04^VXU_V04|{cid}|P|2.5.1|||ER|AL",
        f"PID|1||MRN-{cid}^^^E2E^MR||Tls^Tina^^^^^L||20200115|F",
        f"ORC|RE||ORD-{cid}^E2E",
        "RXA|0|1|20200315||20^DTaP^CVX|0.5|mL^^UCUM||00^New admin^NIP001|||||||LOT1|20251231|SKB^GSK^MVX|||CP|A",
    ])


def mllp_tls(host, port, ctx, msg):
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"\x0b" + msg.encode() + b"\x1c\r")
            buf = b""
            while not buf.endswith(b"\x1c\r"):
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            return buf[1:-2].decode()


def test_https_and_mllp_with_client_certificates(fresh_data_dir, tmp_path):
    make_pki(tmp_path)
    out = run_cli("facility", "certificate", "--data-dir", fresh_data_dir, "--facility", "E2E",
                  "--cert", str(tmp_path / "client.pem")).stdout
    assert "identifies facility E2E" in out
    server = Server(fresh_data_dir, extra_args=[
        "--tls-cert", str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.key"),
        "--mllp-tls-cert", str(tmp_path / "server.pem"), "--mllp-tls-key", str(tmp_path / "server.key"),
        "--mllp-client-ca", str(tmp_path / "ca.pem"),
    ])
    try:
        assert server.http.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        port = server.http.rsplit(":", 1)[1]
        with urllib.request.urlopen(f"https://localhost:{port}/health", context=ctx, timeout=10) as r:
            health = json.loads(r.read())
            assert r.status == 200 and health["status"] == "ok"
            assert health["cdsi_supporting_data"] == "4.64"

        client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        client.load_cert_chain(str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
        assert msa(mllp_tls(server.mllp_host, server.mllp_port, client, vxu("E2E", "TLS1"))) == "AA"
        wrong = mllp_tls(server.mllp_host, server.mllp_port, client, vxu("DCS", "TLS2"))
        assert msa(wrong) == "AR" and "client certificate" in wrong

        anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            mllp_tls(server.mllp_host, server.mllp_port, anonymous, vxu("E2E", "TLS3"))
    finally:
        server.stop()
