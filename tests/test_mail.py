"""hub.mail and hub.mailsink against real aiosmtpd servers on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.logs import bind
from hub.mail import (
    MAX_MESSAGE_CHARS,
    MailError,
    MailPermanentError,
    MailTransientError,
    SmtpSettings,
    redact,
    render_email,
    send_mail,
)
from hub.mailsink import PortZeroController, start_mail_sink

USER, PASSWORD = "hub-mailer", "s3cret-Pa55-word"


# -- servers -------------------------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class Recorder:
    """Accepts everything and keeps it; optional canned replies to RCPT and DATA."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None):
        self.rcpt_reply, self.data_reply = rcpt_reply, data_reply
        self.received: list[Received] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                      envelope.original_content or b""))
        return "250 OK"


def check_password(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                   auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and \
        (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    # handled=False: aiosmtpd answers the failure itself (535), as a real relay would.
    return AuthResult(success=ok, handled=False)


StartServer = Callable[..., PortZeroController]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd servers on a free port; every one is stopped at teardown."""
    started: list[PortZeroController] = []

    def start(handler: Any, **kwargs: Any) -> PortZeroController:
        controller = PortZeroController(handler, hostname="127.0.0.1", port=0, **kwargs)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


@dataclass
class Tls:
    certfile: Path
    keyfile: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1, made now; the client trusts it via cafile."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "relay.pem", folder / "relay.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return Tls(certfile, keyfile)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse(content: bytes) -> EmailMessage:
    import email
    import email.policy

    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def send(settings: SmtpSettings, **kwargs: Any) -> str:
    args: dict[str, Any] = {"sender": "hub@example.com", "to": ["ops@example.com"],
                            "subject": "hello", "text": "plain body"}
    return send_mail(settings, **{**args, **kwargs})


# -- sending ---------------------------------------------------------------------------------
def test_plain_send_delivers_text_and_html(smtp_server: StartServer) -> None:
    recorder = Recorder()
    server = smtp_server(recorder)
    settings = SmtpSettings(host="127.0.0.1", port=server.port, timeout=5)

    with bind("corr-42", "common_errors"):
        message_id = send_mail(settings, sender="Hub <hub@example.com>",
                               to=["a@example.com", "b@example.com"],
                               subject="Error in\r\nBcc: x@evil.example enrollment_request",
                               text="the text part", html="<p>the html part</p>",
                               headers={"X-Hub-Flow": "enrollment_request"})

    assert len(recorder.received) == 1
    got = recorder.received[0]
    assert got.mail_from == "hub@example.com"
    assert got.rcpt_tos == ["a@example.com", "b@example.com"]
    message = parse(got.content)
    # A line break in the subject must not smuggle in a header.
    assert message["Subject"] == "Error in Bcc: x@evil.example enrollment_request"
    assert message["Bcc"] is None
    assert message["Message-ID"] == message_id
    assert re.fullmatch(r"<.+@example\.com>", message_id)
    assert message["X-Hub-Flow"] == "enrollment_request"
    assert message["X-Correlation-ID"] == "corr-42"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().strip() == "the text part"
    assert html.get_content().strip() == "<p>the html part</p>"


def test_text_only_send_is_a_single_part(smtp_server: StartServer) -> None:
    recorder = Recorder()
    server = smtp_server(recorder)
    send(SmtpSettings(host="127.0.0.1", port=server.port, timeout=5), text="only text")
    message = parse(recorder.received[0].content)
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "only text"


def test_starttls_with_auth_and_verified_certificate(smtp_server: StartServer, tls: Tls) -> None:
    recorder = Recorder()
    server = smtp_server(recorder, tls_context=tls.server_context(), require_starttls=True,
                         authenticator=check_password, auth_required=True)
    settings = SmtpSettings(host="127.0.0.1", port=server.port, username=USER, password=PASSWORD,
                            starttls=True, cafile=str(tls.certfile), timeout=5)

    message_id = send(settings, subject="over tls")

    assert [parse(r.content)["Message-ID"] for r in recorder.received] == [message_id]


def test_implicit_tls(smtp_server: StartServer, tls: Tls) -> None:
    recorder = Recorder()
    server = smtp_server(recorder, ssl_context=tls.server_context())
    settings = SmtpSettings(host="127.0.0.1", port=server.port, ssl=True,
                            cafile=str(tls.certfile), timeout=5)
    send(settings)
    assert len(recorder.received) == 1


def test_wrong_password_is_permanent_and_never_shown(smtp_server: StartServer, tls: Tls,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    server = smtp_server(recorder, tls_context=tls.server_context(), require_starttls=True,
                         authenticator=check_password, auth_required=True)
    wrong = "wrong-Pa55-xyz"
    settings = SmtpSettings(host="127.0.0.1", port=server.port, username=USER, password=wrong,
                            starttls=True, cafile=str(tls.certfile), timeout=5)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(MailPermanentError) as caught:
        send(settings)

    assert caught.value.code == 535
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    assert wrong not in str(caught.value)
    assert wrong not in repr(settings) and USER in repr(settings)
    assert wrong not in caplog.text
    assert recorder.received == []


def test_untrusted_certificate_is_permanent(smtp_server: StartServer, tls: Tls) -> None:
    server = smtp_server(Recorder(), tls_context=tls.server_context(), require_starttls=True)
    # No cafile: the system store does not know our self-signed certificate.
    settings = SmtpSettings(host="127.0.0.1", port=server.port, starttls=True, timeout=5)
    with pytest.raises(MailPermanentError, match="SSLCertVerificationError"):
        send(settings)


def test_skipping_required_starttls_is_permanent(smtp_server: StartServer, tls: Tls) -> None:
    server = smtp_server(Recorder(), tls_context=tls.server_context(), require_starttls=True)
    with pytest.raises(MailPermanentError) as caught:
        send(SmtpSettings(host="127.0.0.1", port=server.port, timeout=5))
    assert caught.value.code == 530


def test_connection_refused_is_transient() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(MailTransientError, match="ConnectionRefusedError"):
        send(settings)


def test_dropped_connection_is_transient() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        with pytest.raises(MailTransientError, match="SMTPServerDisconnected"):
            send(SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], timeout=5))
        thread.join(5)


def test_silent_relay_times_out_as_transient() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # never accepts, never greets
        started = time.monotonic()
        with pytest.raises(MailTransientError):
            send(SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], timeout=0.3))
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(("where", "reply", "kind", "code"), [
    ("data", "451 4.3.0 Mailbox busy, try later", MailTransientError, 451),
    ("data", "550 5.7.1 Message rejected", MailPermanentError, 550),
    ("rcpt", "451 4.2.1 Greylisted", MailTransientError, 451),
    ("rcpt", "550 5.1.1 No such user", MailPermanentError, 550),
])
def test_smtp_replies_map_to_error_kinds(smtp_server: StartServer, where: str, reply: str,
                                         kind: type[MailError], code: int) -> None:
    recorder = Recorder(**{f"{where}_reply": reply})
    server = smtp_server(recorder)
    with pytest.raises(kind) as caught:
        send(SmtpSettings(host="127.0.0.1", port=server.port, timeout=5))
    assert type(caught.value) is kind
    assert caught.value.code == code
    assert reply.split(" ", 2)[2] in str(caught.value)


def test_settings_refuse_starttls_and_ssl_together() -> None:
    with pytest.raises(ValueError, match="exclusive"):
        SmtpSettings(starttls=True, ssl=True)


def test_no_recipients_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        send(SmtpSettings(), to=[])


# -- rendering -------------------------------------------------------------------------------
SECRET = "tok-ABC123-very-secret"


def error_context(**overrides: Any) -> dict[str, Any]:
    return {
        "flow": "enrollment_request", "job_id": "job-7f3a",
        "time": dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC), "step": "dacs.enroll",
        "target": "DACS enroll", "downstream_status": 503,
        "downstream_message": f"Service Unavailable <b>bold</b> Authorization: Bearer {SECRET}",
        "message_id": "M-1", "job_url": "http://hub.example/ops/jobs/job-7f3a",
        "payload": {"enrollments": ["should never appear"]},
        **overrides,
    }


def test_error_email_carries_the_contract_fields_and_masks_secrets() -> None:
    subject, text, html = render_email("error", error_context(), secrets=[SECRET, ""])

    assert subject == "[hub] ERROR in enrollment_request (job job-7f3a)"
    for part in (text, html):
        for expected in ("enrollment_request", "job-7f3a", "2026-12-04T10:00:00.000Z",
                         "dacs.enroll", "503", "M-1", "http://hub.example/ops/jobs/job-7f3a",
                         "Authorization: Bearer ***"):
            assert expected in part, (expected, part)
        assert SECRET not in part
        assert "should never appear" not in part
    # HTML is escaped in the HTML part, left alone in the text part.
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "<b>bold</b>" in text
    assert 'href="http://hub.example/ops/jobs/job-7f3a"' in html


def test_secret_in_any_field_and_escaped_secret_are_masked() -> None:
    secret = "p&ss<word>"
    context = error_context(step=f"login with {secret}", flow=f"flow-{secret}",
                            downstream_message=f"echo {secret}")
    subject, text, html = render_email("error", context, secrets=[secret])
    for part in (subject, text, html):
        assert secret not in part
        assert "p&amp;ss&lt;word&gt;" not in part
        assert "***" in part


def test_long_downstream_message_is_cut() -> None:
    body = "x" * (MAX_MESSAGE_CHARS * 3)
    _, text, html = render_email("error", error_context(downstream_message=body))
    assert "x" * MAX_MESSAGE_CHARS in text
    assert "x" * (MAX_MESSAGE_CHARS + 1) not in text
    assert "x" * (MAX_MESSAGE_CHARS + 1) not in html
    assert f"[{MAX_MESSAGE_CHARS * 2} more characters cut]" in text


def test_secret_straddling_the_cut_is_masked_first() -> None:
    secret = "S" * 20
    body = "x" * (MAX_MESSAGE_CHARS - 10) + secret
    _, text, _ = render_email("error", error_context(downstream_message=body), secrets=[secret])
    assert "S" * 5 not in text


def test_error_email_tolerates_a_bare_context() -> None:
    subject, text, html = render_email("error", {})
    assert subject == "[hub] ERROR in unknown flow"
    assert "none (no answer)" in text and "none (no answer)" in html
    assert re.search(r"Time \(UTC\):\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)


def test_process_complete_email() -> None:
    context = {
        "flow": "device_score", "job_id": "job-1", "time": "2026-12-04T10:00:00.000Z",
        "status": "FAILURE", "counts": {"sent": 2, "failed": 1},
        "files_sent": ["score_1.csv", "score_2.csv"], "files_not_sent": ["score_3.csv"],
        "details": [f"score_3.csv: DERMS answered 500 token={SECRET}"],
        "job_url": "http://hub.example/ops/jobs/job-1",
    }
    subject, text, html = render_email("process_complete", context, secrets=[SECRET])

    assert subject == "[hub] device_score complete: FAILURE"
    for part in (text, html):
        for expected in ("score_1.csv", "score_2.csv", "score_3.csv", "sent", "failed",
                         "job-1", "token=***", "http://hub.example/ops/jobs/job-1"):
            assert expected in part, (expected, part)
        assert SECRET not in part
    assert "Files sent (2)" in text and "Files not sent (1)" in text
    assert re.search(r"failed: 1", text)


def test_process_complete_lists_are_capped() -> None:
    names = [f"f{i}.csv" for i in range(600)]
    _, text, _ = render_email("process_complete", {"flow": "device_score", "status": "SUCCESS",
                                                   "files_sent": names})
    assert "Files sent (600)" in text
    assert "f499.csv" in text and "f500.csv" not in text
    assert "... and 100 more" in text


def test_no_file_email() -> None:
    subject, text, html = render_email("no_file", {
        "flow": "device_score", "time": "2026-12-04T10:00:00.000Z",
        "location": "sftp://dacs.example/out/score", "prefix": "DVC_SCORE_"})
    assert subject == "[hub] device_score: no file found"
    for part in (text, html):
        assert "sftp://dacs.example/out/score" in part and "DVC_SCORE_" in part
        assert "2026-12-04T10:00:00.000Z" in part


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown email kind"):
        render_email("weekly_digest", {})


def test_redact_masks_every_non_empty_secret_longest_first() -> None:
    assert redact("user=bob pass=bobby2", ["bob", "bobby2", ""]) == "user=*** pass=***"
    assert redact("nothing here", []) == "nothing here"


def test_rendered_email_goes_through_the_relay(tmp_path: Path) -> None:
    with start_mail_sink(tmp_path) as sink:
        subject, text, html = render_email("error", error_context(), secrets=[SECRET])
        message_id = send_mail(SmtpSettings(host=sink.host, port=sink.port, timeout=5),
                               sender="hub@example.com", to=["errors@example.com"],
                               subject=subject, text=text, html=html)
        [message] = sink.messages()
    assert message["Message-ID"] == message_id
    assert message["Subject"] == subject
    body = message.get_body(("html",))
    assert body is not None and "job-7f3a" in body.get_content()
    assert SECRET not in message.as_string()


# -- the sink ----------------------------------------------------------------------------------
def test_mail_sink_writes_eml_files_it_can_read_back(tmp_path: Path) -> None:
    sink = start_mail_sink(tmp_path / "mail")
    try:
        assert sink.port > 0 and sink.host == "127.0.0.1"
        settings = SmtpSettings(host=sink.host, port=sink.port, timeout=5)
        send(settings, subject="../../etc/passwd first", to=["a@example.com", "b@example.com"])
        send(settings, subject="second", html="<p>second</p>")
        messages = sink.messages()
    finally:
        sink.stop()

    files = sorted(p.name for p in (tmp_path / "mail").iterdir())
    assert len(files) == 2
    assert all(re.fullmatch(r"\d{20}-[0-9a-f]{32}\.eml", name) for name in files)
    assert [m["Subject"] for m in messages] == ["../../etc/passwd first", "second"]
    assert messages[0]["X-RcptTo"] == "a@example.com, b@example.com"
    assert messages[0]["X-MailFrom"] == "hub@example.com"
    html = messages[1].get_body(("html",))
    assert html is not None and html.get_content().strip() == "<p>second</p>"
    # Stopped means stopped: nothing listens on the port any more.
    with pytest.raises(MailTransientError):
        send(SmtpSettings(host="127.0.0.1", port=sink.port, timeout=2))


def test_mail_sink_runs_in_the_foreground_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    script = textwrap.dedent(f"""
        from hub.mailsink import run_mail_sink_forever
        run_mail_sink_forever({str(tmp_path)!r}, "127.0.0.1", {port})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                send(SmtpSettings(host="127.0.0.1", port=port, timeout=2), subject="fg")
                break
            except MailTransientError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the sink did not start"
                time.sleep(0.1)
        assert [p.suffix for p in tmp_path.iterdir()] == [".eml"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"smtp://127.0.0.1:{port}".encode() in out
