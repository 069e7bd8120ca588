"""Enrollment Sync end to end: door -> real worker (embedded broker and Redis) -> sandbox DERMS."""

from __future__ import annotations

from typing import Any

import support
from support import example

PATH = "/api/v1/dacs/enrollment-syncs"


def send(stack: Any, message: dict[str, Any], **headers: str) -> Any:
    return stack.post(PATH, as_client="dacs", json=message, headers=headers)


def test_success_returns_the_external_id_and_derms_got_the_mapped_body(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(stack, example("enrollment-sync.json"), **{"X-Correlation-ID": f"es-{stack.kind}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"externalId": "S-77"}
    assert response.headers["X-Correlation-ID"] == f"es-{stack.kind}"
    calls = sandbox_control.calls(system="derms", op="enroll")
    assert len(calls) == 1
    assert calls[0]["json"]["syncRequestId"] == "S-77"
    assert calls[0]["json"]["devices"][0]["nicId"] == "NIC9"
    assert calls[0]["correlationId"] == f"es-{stack.kind}"
    job = stack.get(f"/api/v1/jobs/es-{stack.kind}", as_client="dacs").get_json()
    assert job["status"] == "SUCCEEDED" and job["result"]["body"] == {"externalId": "S-77"}
    assert mailbox.messages() == []


def test_replayed_sync_request_is_not_sent_twice(stack: Any, sandbox_control: Any) -> None:
    message = example("enrollment-sync.json")
    message["sendDetails"]["syncRequestId"] = f"S-replay-{stack.kind}"
    first = send(stack, message)
    second = send(stack, message)
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json() == {"externalId": f"S-replay-{stack.kind}"}
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="derms", op="enroll")) == 1


def test_derms_business_error_is_a_502_fault_with_the_error_email(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("derms", "enroll", status=400, times=1,
                         body={"error": "BAD_REQUEST", "message": "unknown program BYOT"})
    message = example("enrollment-sync.json")
    message["sendDetails"]["syncRequestId"] = f"S-400-{stack.kind}"
    response = send(stack, message)
    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert "DERMS answered HTTP 400: unknown program BYOT" == problem["detail"]
    assert problem["downstreamStatus"] == 400
    assert len(sandbox_control.calls(system="derms", op="enroll")) == 1  # a 400 is not retried
    mail = mailbox.wait(1)[0]
    assert mail["To"] == "errors@utility.test"
    text = mail.get_body(("plain",)).get_content()
    assert "enrollment_sync" in text and problem["jobId"] in text and "S-400-" in text
    assert "unknown program BYOT" in text
    assert support.CREDENTIALS["dacs"][1] not in mail.as_string()
    dead = stack.ledger.list_dead_letters(flow="enrollment_sync")
    assert dead and dead[0]["job_id"] == problem["jobId"] and dead[0]["step"] == "enrollment_sync.send"


def test_transient_errors_are_retried_then_succeed(stack: Any, sandbox_control: Any) -> None:
    sandbox_control.fail("derms", "enroll", status=503, times=2)
    message = example("enrollment-sync.json")
    message["sendDetails"]["syncRequestId"] = f"S-503-{stack.kind}"
    response = send(stack, message)
    assert response.status_code == 200, response.get_data(as_text=True)
    statuses = [c["status"] for c in sandbox_control.calls(system="derms", op="enroll")]
    assert statuses == [503, 503, 200]


def test_derms_down_after_retries_is_a_502_and_a_replay_tries_again(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.switches("derms", down=True)
    message = example("enrollment-sync.json")
    message["sendDetails"]["syncRequestId"] = f"S-down-{stack.kind}"
    response = send(stack, message)
    assert response.status_code == 502
    assert len(sandbox_control.calls(system="derms", op="enroll")) == 3  # 1 + http.retry.max (2)
    assert mailbox.wait(1)
    # DACS re-sends after a fault; once DERMS is back, the replay is a new attempt, not the old fault
    sandbox_control.switches("derms", down=False)
    again = send(stack, message)
    assert again.status_code == 200 and again.get_json() == {"externalId": f"S-down-{stack.kind}"}
