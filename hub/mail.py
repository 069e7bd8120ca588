"""Outbound email: the error email, the process-complete email and the no-file email.

``render_email`` turns a context into (subject, text, html) from the Jinja2 templates in
``hub/templates/email/``; ``send_mail`` hands the message to the SMTP relay. Relay failures come
out as typed errors, so the mail task retries only what can get better by waiting:

- ``MailTransientError``: connection refused or dropped, timeouts, TLS hiccups, SMTP 4xx replies.
- ``MailPermanentError``: SMTP 5xx replies, authentication failure, refused recipients, a relay
  certificate that does not verify, a relay that lacks STARTTLS or AUTH.

Neither errors nor log lines carry the SMTP password, and emails never carry configured secrets.
"""

from __future__ import annotations

import html as html_lib
import logging
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from hub.logs import current_correlation_id

__all__ = [
    "MailError", "MailPermanentError", "MailTransientError", "SmtpSettings", "redact",
    "render_email", "send_mail", "KINDS", "MAX_MESSAGE_CHARS",
]

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates" / "email"
# The fields each kind shows; a missing one is None, so the templates can test for it.
FIELDS = {
    "error": ("flow", "job_id", "time", "step", "target", "downstream_status",
              "downstream_message", "message_id", "job_url"),
    "process_complete": ("flow", "job_id", "time", "status", "counts", "files_sent",
                         "files_not_sent", "details", "job_url"),
    "no_file": ("flow", "job_id", "time", "location", "prefix", "job_url"),
}
KINDS = tuple(FIELDS)
MAX_MESSAGE_CHARS = 2000  # a downstream message beyond this is an HTML page or a stack trace
MAX_LIST_ITEMS = 500      # file names / details listed in one email; the rest are counted
MASK = "***"


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail relay (config ``smtp.*``). ``repr`` never shows the password."""

    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    # A CA bundle to verify the relay's certificate; None verifies against the system store.
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise ValueError("smtp.starttls and smtp.ssl are exclusive: pick one")


class MailError(Exception):
    """The relay did not take the message. ``code`` is the SMTP reply code, when there was one."""

    def __init__(self, message: str, code: int | None = None):
        # Only the message goes to args, so Celery can rebuild the error from its JSON form.
        super().__init__(message)
        self.code = code


class MailTransientError(MailError):
    """Worth retrying later: the relay was unreachable, slow, or answered 4xx."""


class MailPermanentError(MailError):
    """Retrying will not help: 5xx, bad credentials, refused recipients, TLS misconfiguration."""


# -- sending -----------------------------------------------------------------------------------
def send_mail(settings: SmtpSettings, *, sender: str, to: list[str], subject: str, text: str,
              html: str | None = None, headers: dict[str, str] | None = None) -> str:
    """Send one message (text, plus an HTML alternative when given); return its Message-ID.

    Raises ``MailTransientError`` or ``MailPermanentError``; ``ValueError`` when ``to`` is empty.
    Recipients the relay refuses while it accepts others are logged, not raised: the message
    went out, and a retry would send it twice to those who got it.
    """
    if not to:
        raise ValueError("no recipients")
    message = _build_message(sender=sender, to=to, subject=subject, text=text, html=html,
                             headers=headers)
    message_id = str(message["Message-ID"])
    secrets = [settings.password] if settings.password else []
    try:
        refused = _deliver(settings, message)
    except (smtplib.SMTPException, OSError) as exc:
        error = _translate(exc, secrets)
        log.warning("mail %s to %s via %s:%s failed: %s", message_id, ", ".join(to),
                    settings.host, settings.port, error)
        # "from None": the original exception's text is already in ours, redacted.
        raise error from None
    if refused:
        log.warning("mail %s: relay refused some recipients: %s", message_id,
                    redact(", ".join(f"{a} ({c})" for a, (c, _) in refused.items()), secrets))
    log.info("mail %s sent to %s via %s:%s", message_id, ", ".join(to), settings.host,
             settings.port)
    return message_id


def _build_message(*, sender: str, to: list[str], subject: str, text: str, html: str | None,
                   headers: dict[str, str] | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    # A subject built from data must stay one header line.
    message["Subject"] = " ".join(subject.split())
    message["Date"] = format_datetime(datetime.now(UTC))
    # make_msgid() without a domain asks DNS for the FQDN, which can hang; the sender's does.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    correlation_id = current_correlation_id()
    if correlation_id:
        message["X-Correlation-ID"] = correlation_id
    for name, value in (headers or {}).items():
        del message[name]  # a caller's header replaces ours rather than doubling it
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _deliver(settings: SmtpSettings, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
    context = ssl.create_default_context(cafile=settings.cafile)
    client: smtplib.SMTP
    if settings.ssl:
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                  context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.starttls:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        return client.send_message(message)
    finally:
        # Not "with client": its QUIT can raise after the relay took the message, and a retry
        # would send it twice. Once the outcome is known, a failing QUIT changes nothing.
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _translate(exc: smtplib.SMTPException | OSError, secrets: list[str]) -> MailError:
    """Map smtplib / socket / ssl errors onto the two kinds the mail task acts on."""
    text = redact(f"{type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        transient = bool(codes) and all(400 <= code < 500 for code in codes)
        return (MailTransientError if transient else MailPermanentError)(
            text, codes[0] if codes else None)
    if isinstance(exc, smtplib.SMTPResponseException):
        # Covers auth failure (535), sender refused, DATA refused, bad greeting.
        if 500 <= exc.smtp_code < 600:
            return MailPermanentError(text, exc.smtp_code)
        return MailTransientError(text, exc.smtp_code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailTransientError(text)
    if isinstance(exc, smtplib.SMTPException):
        # No STARTTLS / no AUTH / no common AUTH mechanism: the relay's setup, not its mood.
        return MailPermanentError(text)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailPermanentError(text)
    # Refused, reset, timed out, name lookup failed, TLS handshake cut short.
    return MailTransientError(text)


# -- rendering ---------------------------------------------------------------------------------
def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``."""
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                            default_for_string=False),
        # Default Undefined: a missing optional field renders as nothing; templates use
        # "if" around the lines that need one.
        undefined=jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_email(kind: str, context: Mapping[str, Any],
                 secrets: Iterable[str] | None = None) -> tuple[str, str, str]:
    """Render ``kind`` ("error", "process_complete" or "no_file") as (subject, text, html).

    Every string in the context, and every rendered part, has the ``secrets`` masked. The
    downstream message is cut to ``MAX_MESSAGE_CHARS``; lists to ``MAX_LIST_ITEMS``.
    Context keys (all optional; the templates skip what is missing):

    - error: flow, job_id, time, step, target, downstream_status, downstream_message,
      message_id, job_url
    - process_complete: flow, job_id, time, status, counts (dict), files_sent,
      files_not_sent, details (lists of strings), job_url
    - no_file: flow, time, location, prefix, job_id, job_url
    """
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of {', '.join(KINDS)}")
    secret_list = [s for s in (secrets or ()) if s]
    values = {name: None for name in FIELDS[kind]} | _mask(dict(context), secret_list)
    values["time"] = _time(values.get("time"))
    if values.get("downstream_message") is not None:
        values["downstream_message"] = _clip(str(values["downstream_message"]),
                                             MAX_MESSAGE_CHARS)
    for key in ("files_sent", "files_not_sent", "details"):
        items = list(values.get(key) or ())
        values[key] = items[:MAX_LIST_ITEMS]
        values[f"{key}_more"] = max(0, len(items) - MAX_LIST_ITEMS)

    env = _environment()
    subject = env.get_template(f"{kind}.subject.txt").render(values)
    text = env.get_template(f"{kind}.txt").render(values)
    html = env.get_template(f"{kind}.html").render(values)
    # Masking the output as well catches a secret that only appears once values are joined;
    # the HTML may hold it escaped.
    subject = " ".join(redact(subject, secret_list).split())
    text = redact(text, secret_list)
    html = redact(html, secret_list + [html_lib.escape(s) for s in secret_list])
    return subject, text, html


def _mask(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_mask(v, secrets) for v in value]
    return value


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters cut]"


def _time(value: Any) -> str:
    """The contract's UTC form, 2026-12-04T10:00:00.000Z; now when missing."""
    if value and not isinstance(value, datetime):
        return str(value)
    moment: datetime = value or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
