"""One-time codes for "My immunization record" through the operator's real
channels, end to end against the binary: a real SMTP server (aiosmtpd)
receives the e-mail, plain on loopback and, with a private CA, over STARTTLS
with a log-in and over implicit TLS; a real HTTP server (Python's http.server, plain and HTTPS)
plays the SMS gateway and receives the JSON with the bearer token. Each code
completes the flow (verify, view, download the PDF). A gateway answering 500
changes nothing the requester sees (same page, comparable time) and is logged
server-side without the phone number, the code or the name; channel
options that would send codes in clear across the network stop the server
at startup."""
import email
import email.policy
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import BIN, Server, register, run_cli
from test_documents import ask, handle_of, request, vxu

TOKEN = "e2e-gateway-token-7f3a9c"
FROM = "Immunization Registry <no-reply@registry.example.org>"
EMAIL = "parent.documenta@example.org"
PHONE_TYPED = "+1 (617) 555-0142"
PHONE_DIGITS = "16175550142"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "message": email.message_from_bytes(envelope.original_content, policy=email.policy.default),
        })
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((mechanism, auth_data.login.decode(), auth_data.password.decode()))
        ok = auth_data.login == b"registry-mailer" and auth_data.password == b"smtp-secret-e2e"
        return AuthResult(success=ok)


class Gateway:
    """An SMS gateway's webhook: records each POST and answers `status`."""

    def __init__(self, status=200, tls_context=None, delay=0.0):
        self.calls = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.calls.append({
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(self.rfile.read(n)),
                })
                time.sleep(delay)
                body = b'{"queued": true}' if outer.status < 300 else b'{"error": "gateway down"}'
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(items, n=1, timeout=15):
    deadline = time.time() + timeout
    while len(items) < n and time.time() < deadline:
        time.sleep(0.05)
    assert len(items) >= n, f"expected {n} deliveries, got {len(items)}"


def code_in(text):
    return re.search(r"\b(\d{6})\b", text).group(1)


def prepared_dir(d):
    register(d)
    path = os.path.join(d, "doc1.hl7")
    with open(path, "w") as f:
        f.write(vxu())
    run_cli("import", "--data-dir", d, path)


def stderr_after_stop(s):
    """The server's log from its start line on, without the timestamps
    (their digits could pass for a code)."""
    s.stop()
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "", s.proc.stderr.read())


def complete_flow(s, handle, code):
    """The code opens the record; the PDF downloads."""
    st, h, _ = request(s.http, "POST", "/my-record/verify", {"handle": handle, "code": code})
    assert st == 303 and h["location"] == "/my-record/view", (st, h)
    cookie = h["set-cookie"].split(";")[0]
    st, _, view = request(s.http, "GET", "/my-record/view", headers={"Cookie": cookie})
    assert st == 200 and b"Documenta" in view
    st, h, pdf = request(s.http, "GET", "/my-record/record.pdf", headers={"Cookie": cookie})
    assert st == 200 and h["content-type"] == "application/pdf" and pdf.startswith(b"%PDF-")
    assert request(s.http, "POST", "/my-record/logout", headers={"Cookie": cookie})[0] == 303


def test_email_by_smtp_and_sms_by_webhook_complete_the_flow():
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    gateway = Gateway()
    with tempfile.TemporaryDirectory() as d:
        prepared_dir(d)
        s = Server(d, extra_env={"IMMUNIS_SMS_WEBHOOK_TOKEN": TOKEN}, extra_args=[
            "--code-smtp", f"smtp://127.0.0.1:{smtp.port}", "--code-from", FROM,
            "--code-sms-webhook", f"http://127.0.0.1:{gateway.port}/v1/messages",
        ])
        try:
            # E-mail: the SMTP server gets one message, to the address on file.
            status, page, _ = ask(s, "Zoe", "Documenta", "2018-03-14", "Parent.Documenta@Example.org")
            assert status == 200
            wait_for(mailbox.messages)
            m = mailbox.messages[0]
            assert not m["tls"], "plain SMTP on loopback"
            assert m["mail_from"] == "no-reply@registry.example.org"
            assert [r.lower() for r in m["rcpt_tos"]] == [EMAIL]
            msg = m["message"]
            assert msg["Subject"] == "Your immunization record code"
            assert msg["From"].addresses[0].addr_spec == "no-reply@registry.example.org"
            assert msg["Message-ID"].endswith("@registry.example.org>")
            assert msg.get_content_type() == "text/plain"
            code = code_in(msg.get_content())
            assert gateway.calls == [], "an e-mail contact goes by e-mail only"
            complete_flow(s, handle_of(page), code)

            # SMS: the gateway gets the JSON with the bearer token.
            status, page, _ = ask(s, "Zoe", "Documenta", "2018-03-14", PHONE_TYPED)
            assert status == 200
            wait_for(gateway.calls)
            call = gateway.calls[0]
            assert call["path"] == "/v1/messages"
            assert call["authorization"] == f"Bearer {TOKEN}"
            assert call["content_type"] == "application/json"
            assert set(call["json"]) == {"to", "body"} and call["json"]["to"] == PHONE_DIGITS
            code = code_in(call["json"]["body"])
            assert len(mailbox.messages) == 1, "a phone contact goes by SMS only"
            complete_flow(s, handle_of(page), code)
        finally:
            log = stderr_after_stop(s)
            gateway.close()
            smtp.stop()
    assert TOKEN not in log and "Documenta" not in log and "555" not in log, log


def test_a_failing_gateway_leaks_nothing_to_the_requester_and_is_logged_without_patient_data():
    gateway = Gateway(status=500)
    with tempfile.TemporaryDirectory() as d:
        prepared_dir(d)
        # SMS only: an e-mail contact that matches has no channel either.
        s = Server(d, extra_env={"IMMUNIS_SMS_WEBHOOK_TOKEN": TOKEN}, extra_args=[
            "--code-sms-webhook", f"http://127.0.0.1:{gateway.port}/send",
        ])
        try:
            status, page, took = ask(s, "Zoe", "Documenta", "2018-03-14", PHONE_TYPED)
            others = [ask(s, "Zoe", "Documenta", "2018-03-14", "(617) 555-0199"),
                      ask(s, "Nobody", "Atall", "2011-01-01", "617-555-0142"),
                      ask(s, "Zoe", "Documenta", "2018-03-14", EMAIL)]
            for st, pg, t in others:
                assert st == status == 200
                assert pg.replace(handle_of(pg), "H") == page.replace(handle_of(page), "H"), "identical answer"
                assert t >= 0.6 and abs(t - took) < 0.5, (t, took)
            wait_for(gateway.calls)
            time.sleep(0.5)
            assert len(gateway.calls) == 1, "only the matching phone request reached the gateway"
            sent_code = code_in(gateway.calls[0]["json"]["body"])
            # The requester's view of a failed delivery: a wrong code fails like any other.
            wrong = "000000" if sent_code != "000000" else "111111"
            assert request(s.http, "POST", "/my-record/verify", {"handle": handle_of(page), "code": wrong})[0] == 401
        finally:
            log = stderr_after_stop(s)
            gateway.close()
    assert "one-time code delivery failed" in log and "HTTP 500" in log, log
    assert "no channel is configured for email codes" in log, log
    for secret in [sent_code, "5550142", "Documenta", "Zoe", "example.org", TOKEN]:
        assert secret not in log, f"{secret!r} in the server log:\n{log}"


def test_a_hanging_gateway_delays_no_answer_and_times_out():
    gateway = Gateway(delay=4.0)
    with tempfile.TemporaryDirectory() as d:
        prepared_dir(d)
        s = Server(d, extra_env={"IMMUNIS_SMS_WEBHOOK_TOKEN": TOKEN}, extra_args=[
            "--code-sms-webhook", f"http://127.0.0.1:{gateway.port}/send", "--code-send-timeout", "1",
        ])
        try:
            status, page, took = ask(s, "Zoe", "Documenta", "2018-03-14", PHONE_TYPED)
            st, pg, t = ask(s, "Nobody", "Atall", "2011-01-01", PHONE_TYPED)
            assert status == st == 200
            assert pg.replace(handle_of(pg), "H") == page.replace(handle_of(page), "H")
            assert took < 1.5 and abs(t - took) < 0.5, (took, t)
            wait_for(gateway.calls)
            time.sleep(1.5)
        finally:
            log = stderr_after_stop(s)
            gateway.close()
    assert "the SMS gateway did not answer in time" in log, log


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_starttls_with_login_and_https_webhook_verified_against_a_private_ca(tmp_path):
    from test_tls import make_pki
    make_pki(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(tmp_path / "server.pem"), str(tmp_path / "server.key"))
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=server_ctx,
                      require_starttls=True, auth_required=True, authenticator=mailbox.authenticate)
    smtp.start()
    gateway = Gateway(tls_context=server_ctx)
    env = {
        # The registry trusts the private CA only through the standard variable.
        "SSL_CERT_FILE": str(tmp_path / "ca.pem"),
        "IMMUNIS_SMTP_USERNAME": "registry-mailer",
        "IMMUNIS_SMTP_PASSWORD": "smtp-secret-e2e",
        "IMMUNIS_SMS_WEBHOOK_TOKEN": TOKEN,
    }
    with tempfile.TemporaryDirectory() as d:
        prepared_dir(d)
        s = Server(d, extra_env=env, extra_args=[
            "--code-smtp", f"smtp://localhost:{smtp.port}?tls=required", "--code-from", FROM,
            "--code-sms-webhook", f"https://localhost:{gateway.port}/sms",
        ])
        try:
            _, page, _ = ask(s, "Zoe", "Documenta", "2018-03-14", EMAIL)
            wait_for(mailbox.messages)
            assert mailbox.messages[0]["tls"], "the message went over STARTTLS"
            assert [(m, u) for m, u, _ in mailbox.logins] and mailbox.logins[-1][1:] == ("registry-mailer", "smtp-secret-e2e")
            complete_flow(s, handle_of(page), code_in(mailbox.messages[0]["message"].get_content()))

            _, page, _ = ask(s, "Zoe", "Documenta", "2018-03-14", PHONE_TYPED)
            wait_for(gateway.calls)
            assert gateway.calls[0]["authorization"] == f"Bearer {TOKEN}"
            complete_flow(s, handle_of(page), code_in(gateway.calls[0]["json"]["body"]))
        finally:
            log = stderr_after_stop(s)
            gateway.close()
            smtp.stop()
    assert "smtp-secret-e2e" not in log and TOKEN not in log, log


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_implicit_tls_smtps(tmp_path):
    from test_tls import make_pki
    make_pki(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(tmp_path / "server.pem"), str(tmp_path / "server.key"))
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ssl_context=server_ctx)
    smtp.start()
    with tempfile.TemporaryDirectory() as d:
        prepared_dir(d)
        s = Server(d, extra_env={"SSL_CERT_FILE": str(tmp_path / "ca.pem")}, extra_args=[
            "--code-smtp", f"smtps://localhost:{smtp.port}", "--code-from", FROM,
        ])
        try:
            _, page, _ = ask(s, "Zoe", "Documenta", "2018-03-14", EMAIL)
            wait_for(mailbox.messages)
            assert mailbox.messages[0]["tls"]
            complete_flow(s, handle_of(page), code_in(mailbox.messages[0]["message"].get_content()))
        finally:
            s.stop()
            smtp.stop()


def serve_fails(*args, env=None):
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([BIN, "serve", "--data-dir", d, "--http", "127.0.0.1:0", "--mllp", "127.0.0.1:0", *args],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
    assert r.returncode != 0, r.stderr
    return r.stderr


def test_unsafe_or_broken_channel_options_stop_the_server_at_startup():
    e = serve_fails("--code-smtp", "smtp://192.0.2.25:25", "--code-from", FROM)
    assert "--code-smtp" in e and "unencrypted" in e and "loopback" in e, e
    e = serve_fails("--code-smtp", "smtp://127.0.0.1:2525")
    assert "--code-from" in e, e
    e = serve_fails("--code-smtp", "smtps://mailer:hunter2@mail.example.org", "--code-from", FROM)
    assert "IMMUNIS_SMTP_PASSWORD" in e and "hunter2" not in e, e
    e = serve_fails("--code-sms-webhook", "http://sms.example.org/send")
    assert "--code-sms-webhook" in e and "https://" in e, e
    e = serve_fails("--code-sms-webhook", "sms gateway")
    assert "not a valid URL" in e, e
    e = serve_fails("--code-outbox", "/tmp/outbox", "--code-sms-webhook", "http://127.0.0.1:1/")
    assert "cannot be used with" in e, e
