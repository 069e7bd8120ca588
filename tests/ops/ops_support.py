"""Helpers of the operations tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import requests

import support
from conftest import Stack

#: This hub's outbound credentials: the sandbox is told to demand them, so they really travel
#: (and must never reach a log line).
DACS_AUTH = ("hub-to-dacs", "dacs-outbound-pw-5e8")
DERMS_AUTH = ("hub-to-derms", "derms-outbound-pw-0d4")
DERMS_OAUTH = ("hub-derms-client", "derms-client-secret-2b7")
SMTP_PASSWORD = "smtp-relay-pw-71c"
OPS_TOKEN = "ops-bearer-token-93ad"


def ops_overrides(sandbox: Any, *, oauth: bool = False) -> dict[str, Any]:
    """Secrets configured on top of support.base_overrides.

    DERMS by Basic, or by OAuth2 client credentials with ``oauth`` (only for a hub whose life
    has no sandbox reset in it: a reset forgets the tokens the sandbox issued).
    """
    values: dict[str, Any] = {
        "dacs.auth.username": DACS_AUTH[0], "dacs.auth.password": DACS_AUTH[1],
        # a password with no user: configured (and so a secret to mask) but no SMTP login
        "smtp.password": SMTP_PASSWORD,
        "clients.ops.token": OPS_TOKEN,
        "hub.public.url": "http://hub.example.test",
    }
    if oauth:
        values.update({"derms.auth.token.url": f"{sandbox.url}/oauth2/token",
                       "derms.auth.client.id": DERMS_OAUTH[0],
                       "derms.auth.client.secret": DERMS_OAUTH[1]})
    else:
        values.update({"derms.auth.username": DERMS_AUTH[0],
                       "derms.auth.password": DERMS_AUTH[1]})
    return values


def sandbox_auth(control: Any, *, oauth: bool = False) -> None:
    """Make the sandbox demand the credentials of :func:`ops_overrides`."""
    settings: dict[str, Any] = {"dacs_auth": {"username": DACS_AUTH[0],
                                              "password": DACS_AUTH[1]}}
    if oauth:
        settings["oauth_clients"] = {DERMS_OAUTH[0]: DERMS_OAUTH[1]}
    else:
        settings["derms_auth"] = {"username": DERMS_AUTH[0], "password": DERMS_AUTH[1]}
    control.auth(**settings)


def configured_secrets(stack: Stack) -> dict[str, str]:
    """Every secret value of the stack's config, by property (what the logs must never show)."""
    from hub.config import PROPERTIES

    return {k: str(v) for k, v in stack.config.values.items() if v and PROPERTIES[k].secret}


class WebServer(support.HubProcess):
    """A real ``hub web`` (waitress)."""

    def __init__(self, config_file: Path):
        self.port = support.free_port()
        super().__init__(config_file, ["web", "--host", "127.0.0.1", "--port", str(self.port),
                                       "--threads", "8"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hub web exited with {self.process.returncode}:\n{self.output}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"hub web not ready after {timeout}s:\n{self.output[-3000:]}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def enrollment_sync_message(sync_id: str) -> dict[str, Any]:
    message = support.example("enrollment-sync.json")
    message["sendDetails"]["syncRequestId"] = sync_id
    return message


def fail_enrollment_sync(stack: Stack, sandbox_control: Any, *, down: bool = True,
                         job_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """Drive one enrollment_sync to a dead letter: DERMS down (retries spent) or a 400.

    Returns the job id and the dead letter row. DERMS stays down if it was put down.
    """
    job_id = job_id or unique("es")
    if down:
        sandbox_control.switches("derms", down=True)
    else:
        sandbox_control.fail("derms", "enroll", status=400, times=1,
                             body={"error": "BAD_REQUEST", "message": "unknown program"})
    response = stack.post("/api/v1/dacs/enrollment-syncs", as_client="dacs",
                          json=enrollment_sync_message(f"S-{job_id}"),
                          headers={"X-Correlation-ID": job_id})
    assert response.status_code == 502, response.get_data(as_text=True)
    entry = wait_dead_letter(stack, job_id)
    return job_id, entry


def wait_dead_letter(stack: Stack, job_id: str, step: str | None = None,
                     timeout: float = 30) -> dict[str, Any]:
    def found() -> Any:
        rows = stack.ledger.list_dead_letters(job_id=job_id, status="OPEN")
        rows = [r for r in rows if step is None or r["step"] == step]
        return rows[0] if rows else None

    return support.wait_for(found, timeout, what=f"a dead letter for {job_id}")


def wait_job(stack: Stack, job_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    return support.wait_for(lambda: (j := stack.ledger.get_job(job_id)) and
                            j["status"] == status and j, timeout,
                            what=f"job {job_id} to be {status}")


class Relay:
    """A mail relay on a fixed port that a test can stop (the relay is down) and start again."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = support.free_port()
        self.sink: Any = None
        self.start()

    def start(self) -> None:
        from hub.mailsink import start_mail_sink

        if self.sink is None:
            self.sink = start_mail_sink(self.directory, port=self.port)

    def stop(self) -> None:
        if self.sink is not None:
            self.sink.stop()
            self.sink = None


#: where the ops hub's Device Score looks on its FTP server (a folder that a test creates)
SCORE_DIR = "scores"
