"""The Common Error Handler: the endpoint, the flags, and a mail relay that is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import support
from conftest import Stack, _start_stack
from support import example

REPORT = {"flow": "enrollment_sync", "jobId": "J-ext-1", "step": "enrollment_sync.send",
          "messageId": "S-9", "downstreamStatus": 500, "target": "derms",
          "downstreamMessage": "upstream said no; password=" + support.CREDENTIALS["ops"][1]}


def test_reported_error_is_emailed_with_the_contracts_contents(stack: Any, mailbox: Any) -> None:
    response = stack.post("/api/v1/common/errors", as_client="ops", json=REPORT)
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["jobId"]
    mail = mailbox.wait(1)[0]
    assert mail["To"] == "errors@utility.test" and mail["From"] == "hub@utility.test"
    text = mail.get_body(("plain",)).get_content()
    for expected in ("enrollment_sync", "J-ext-1", "enrollment_sync.send", "500", "S-9",
                     "upstream said no", "/ops/jobs/J-ext-1"):
        assert expected in text, expected
    assert mail.get_body(("html",)) is not None
    # a configured secret that reached the report is masked, in every part
    assert support.CREDENTIALS["ops"][1] not in mail.as_string()
    job = support.wait_for(lambda: (j := stack.ledger.get_job(job_id)) and
                           j["status"] == "SUCCEEDED" and j, what="the report job")
    assert job["result"]["sent"] is True


def test_error_report_needs_the_ops_client_and_a_flow(stack: Any) -> None:
    assert stack.post("/api/v1/common/errors", as_client="dacs", json=REPORT).status_code == 403
    bad = stack.post("/api/v1/common/errors", as_client="ops", json={"step": "x"})
    assert bad.status_code == 400 and "flow" in bad.get_json()["errors"]


@pytest.fixture
def quiet_stack(sandbox: Any, mail_sink: Any, tmp_path: Path,
                sandbox_control: Any, mailbox: Any) -> Iterator[Stack]:
    """notification.email.error.flag false: errors are recorded, no email is sent."""
    stack = _start_stack("embedded", sandbox, mail_sink, tmp_path,
                         **{"notification.email.error.flag": "false"})
    yield stack.activate()
    stack.worker.stop()


def test_error_flag_off_sends_no_email(quiet_stack: Stack, sandbox_control: Any,
                                       mailbox: Any) -> None:
    sandbox_control.fail("derms", "enroll", status=400, times=1, body={"message": "nope"})
    response = quiet_stack.post("/api/v1/dacs/enrollment-syncs", as_client="dacs",
                                json=example("enrollment-sync.json"))
    assert response.status_code == 502
    job_id = response.get_json()["jobId"]
    support.wait_for(lambda: any(e["kind"] == "email" for e in quiet_stack.ledger.job_events(job_id)),
                     what="the error handler to run")
    email_events = [e for e in quiet_stack.ledger.job_events(job_id) if e["kind"] == "email"]
    assert [e["status"] for e in email_events] == ["SKIPPED"]
    assert mailbox.messages() == []


@pytest.fixture
def stack_without_mail(sandbox: Any, mail_sink: Any, tmp_path: Path,
                       sandbox_control: Any) -> Iterator[Stack]:
    """The mail relay is down (nothing listens on its port)."""
    stack = _start_stack("embedded", sandbox, mail_sink, tmp_path,
                         **{"smtp.port": support.free_port()})
    yield stack.activate()
    stack.worker.stop()


def test_mail_relay_down_is_retried_and_never_fails_the_flow(stack_without_mail: Stack,
                                                             sandbox_control: Any) -> None:
    stack = stack_without_mail
    ok = stack.post("/api/v1/dacs/enrollment-syncs", as_client="dacs",
                    json=example("enrollment-sync.json"))
    assert ok.status_code == 200  # a flow that needs no email is untouched
    sandbox_control.fail("derms", "enroll", status=400, times=1, body={"message": "nope"})
    message = example("enrollment-sync.json")
    message["sendDetails"]["syncRequestId"] = "S-nomail"
    fault = stack.post("/api/v1/dacs/enrollment-syncs", as_client="dacs", json=message)
    assert fault.status_code == 502  # the flow's answer does not wait for, or depend on, mail
    job_id = fault.get_json()["jobId"]
    dead = support.wait_for(lambda: stack.ledger.list_dead_letters(flow="common_errors"),
                            timeout=30, what="the error email to be dead-lettered")
    assert dead[0]["step"] == "common_errors.handle" and dead[0]["job_id"] == job_id
    assert dead[0]["attempts"] == 3  # 1 + mail.retry.max (2)
    assert "S-nomail" in str(dead[0]["input"])  # the report can be re-queued when mail is back
    assert stack.ledger.get_job(job_id)["status"] == "FAILED"  # still the flow's own failure
