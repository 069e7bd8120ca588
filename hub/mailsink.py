"""An SMTP sink for the sandbox, demos and tests: every message it receives becomes an .eml file.

``hub up --sandbox`` runs it (``hub mailsink``) so the hub's emails can be read without a relay.
It accepts any sender and recipient, without TLS or AUTH: bind it to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import os
import signal
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["MailSink", "PortZeroController", "start_mail_sink", "run_mail_sink_forever"]

log = logging.getLogger(__name__)


class PortZeroController(Controller):
    """aiosmtpd's threaded Controller, where port 0 means "a free port", read back into .port."""

    def _trigger_server(self) -> None:
        # Controller.start() connects to self.port to wake the SMTP factory. With port 0 the OS
        # chose the port when it bound the listener; read it here, race-free, before connecting.
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class _EmlWriter:
    """aiosmtpd handler: writes each message to ``directory`` as <time>-<uuid>.eml."""

    def __init__(self, directory: Path):
        self.directory = directory

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        # The envelope is not in the message itself; record it the way aiosmtpd's own
        # Message handler does, so a reader can check who the mail was really sent to.
        trace = (f"X-MailFrom: {envelope.mail_from}\r\n"
                 f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        # The name comes from the clock and a uuid, never from the message: sorted names are in
        # arrival order, and no header can steer where the file goes.
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(trace + content)
        # A reader globbing *.eml sees whole messages only.
        os.replace(tmp, self.directory / name)
        return "250 OK"


class MailSink:
    """A running sink: ``host``/``port`` to send to, ``messages()`` to read, ``stop()``."""

    def __init__(self, controller: PortZeroController, directory: Path):
        self._controller = controller
        self.directory = directory

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def messages(self) -> list[EmailMessage]:
        """Every message received so far (still on disk), oldest first."""
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)  # what policy.default builds
            found.append(message)
        return found

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_mail_sink(directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> MailSink:
    """Start a sink in a background thread; port 0 picks a free port (see ``.port``)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    controller = PortZeroController(_EmlWriter(path), hostname=host, port=port)
    controller.start()
    log.info("mail sink listening on %s:%s, writing to %s", host, controller.port, path)
    return MailSink(controller, path)


def run_mail_sink_forever(directory: str | Path, host: str = "127.0.0.1", port: int = 8025) -> None:
    """Run a sink in the foreground until SIGTERM or SIGINT (``hub mailsink``)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sink = start_mail_sink(directory, host, port)
    print(f"mail sink on smtp://{sink.host}:{sink.port} -> {sink.directory}", flush=True)
    try:
        while not stop.wait(1.0):  # a timeout, so the wait never blocks the signal handler
            pass
    finally:
        sink.stop()
