"""Logs: JSON lines with the correlation id, the flow and the job; never a configured secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

import support
from conftest import Stack, _start_stack
from ops.ops_support import (
    DACS_AUTH,
    DERMS_OAUTH,
    OPS_TOKEN,
    WebServer,
    configured_secrets,
    enrollment_sync_message,
    ops_overrides,
    sandbox_auth,
    unique,
    wait_dead_letter,
    wait_job,
)

#: the one line Celery writes without logging (a bare print on shutdown)
CELERY_SHUTDOWN_NOTICE = "worker: Warm shutdown (MainProcess)"


@pytest.fixture
def secret_stack(sandbox: Any, mail_sink: Any, tmp_path: Path, sandbox_control: Any,
                 mailbox: Any) -> Iterator[Stack]:
    """A hub of its own (worker and `hub web`), calling DACS with Basic and DERMS with OAuth2."""
    sandbox_auth(sandbox_control, oauth=True)
    stack = _start_stack("redis", sandbox, mail_sink, tmp_path, **ops_overrides(sandbox,
                                                                                    oauth=True))
    web = WebServer(stack.config_file)
    stack.extra["web"] = web
    try:
        web.wait_ready()
        yield stack.activate()
    finally:
        web.stop()
        assert stack.worker is not None
        stack.worker.stop()


def spellings(stack: Stack) -> dict[str, str]:
    """Each configured secret as it could leak: plain, URL-encoded, and in Basic headers."""
    found: dict[str, str] = {}
    for name, secret in configured_secrets(stack).items():
        found[name] = secret
        found[f"{name} (url-encoded)"] = quote(secret, safe="")
    pairs = {f"clients.{client}": support.CREDENTIALS[client] for client in support.CREDENTIALS}
    pairs.update({"dacs.auth": DACS_AUTH, "derms.auth.client": DERMS_OAUTH})
    for name, (user, password) in pairs.items():
        found[f"{name} (Basic header)"] = base64.b64encode(f"{user}:{password}".encode()).decode()
    return found


def test_no_configured_secret_reaches_the_worker_or_web_output(
        secret_stack: Stack, sandbox_control: Any, mailbox: Any) -> None:
    stack = secret_stack
    web: WebServer = stack.extra["web"]
    secrets = configured_secrets(stack)
    # Every kind of secret is configured, and the outbound ones are really used.
    assert {"clients.dacs.password", "clients.derms.password", "clients.ops.password",
            "clients.ops.token", "dacs.auth.password", "derms.auth.client.secret",
            "smtp.password"} <= set(secrets)
    dacs, ops = support.CREDENTIALS["dacs"], support.CREDENTIALS["ops"]
    url = f"{web.url}/api/v1/dacs/enrollment-syncs"

    # 1. a success (DERMS by OAuth2) after two transient errors
    sandbox_control.fail("derms", "enroll", status=503, times=2)
    good = unique("log-ok")
    answer = requests.post(url, auth=dacs, json=enrollment_sync_message(f"S-{good}"),
                           headers={"X-Correlation-ID": good}, timeout=30)
    assert answer.status_code == 200, answer.text
    # 2. a failure whose downstream message carries a password: logged masked, emailed masked
    bad = unique("log-fail")
    sandbox_control.fail("derms", "enroll", status=400, times=1,
                         body={"message": f"login {DACS_AUTH[0]}/{DACS_AUTH[1]} refused"})
    answer = requests.post(url, auth=dacs, json=enrollment_sync_message(f"S-{bad}"),
                           headers={"X-Correlation-ID": bad}, timeout=30)
    assert answer.status_code == 502
    entry = wait_dead_letter(stack, bad)
    assert mailbox.wait(1)
    # 3. ops work through the web: the health page (DACS Basic, DERMS OAuth2), a re-queue with
    #    the Bearer token, /metrics, and a wrong password
    health = requests.get(f"{web.url}/ops/health", auth=ops, timeout=30)
    assert health.status_code == 200 and health.text.count(">UP<") >= 4, health.text
    requeued = requests.post(f"{web.url}/api/v1/failed/{entry['id']}/requeue", timeout=30,
                             headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert requeued.status_code == 202, requeued.text
    wait_job(stack, bad, "SUCCEEDED")
    assert requests.get(f"{web.url}/metrics", auth=ops, timeout=30).status_code == 200
    assert requests.get(f"{web.url}/ops", auth=(ops[0], "wrong"), timeout=30).status_code == 401
    assert sandbox_control.calls(system="dacs", op="health_check")[-1]["status"] == 200
    assert [c["status"] for c in sandbox_control.calls(system="derms", op="enroll")] == \
        [503, 503, 200, 400, 200]

    web.stop()
    assert stack.worker is not None
    stack.worker.stop()
    outputs = {"worker": stack.worker.output, "web": web.output}
    for part, output in outputs.items():
        for name, spelling in spellings(stack).items():
            assert spelling not in output, f"{name} appears in the {part}'s output"

    worker_lines = [json.loads(line) for line in outputs["worker"].splitlines()
                    if line.strip() and line.strip() != CELERY_SHUTDOWN_NOTICE]
    failed = [r for r in worker_lines if r["message"] == "step failed" and r["jobId"] == bad]
    assert failed and failed[0]["flow"] == "enrollment_sync"
    assert failed[0]["correlationId"] == bad and "***" in failed[0]["error"]
    assert failed[0]["taskId"] == bad and failed[0]["task"] == "enrollment_sync.send"
    calls = [r for r in worker_lines if r["message"] == "outbound call" and r["jobId"] == good]
    assert [r["status"] for r in calls] == [503, 503, 200]
    assert all(r["flow"] == "enrollment_sync" for r in calls)
    # Celery's own lines are JSON too
    assert any(r["logger"].startswith("celery") and "ready." in r["message"]
               for r in worker_lines)
    web_lines = [json.loads(line) for line in outputs["web"].splitlines() if line.strip()]
    assert any(r["logger"].startswith("waitress") for r in web_lines)
    requests_logged = [r for r in web_lines if r["logger"] == "hub.access"]
    assert {(r["method"], r["path"], r["status"], r["correlationId"]) for r in requests_logged} >= {
        ("POST", "/api/v1/dacs/enrollment-syncs", 200, good),
        ("POST", "/api/v1/dacs/enrollment-syncs", 502, bad),
        ("GET", "/ops", 401, requests_logged[-1]["correlationId"])}  # no redirect first
    assert all(r["elapsed_ms"] is not None for r in requests_logged)
    assert any(r["message"] == "dead letter re-queued" and r["deadLetter"] == entry["id"]
               for r in web_lines)
