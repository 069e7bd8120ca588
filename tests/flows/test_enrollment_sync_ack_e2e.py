"""Enrollment Sync Ack end to end: door -> real worker on Redis -> sandbox DACS (PATCH)."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.app import queue_depth

PATH = "/api/v1/derms/enrollment-sync-acks"


def ack(message_id: str, ack_type: str = "SUCCESS", sync_id: str = "S-77",
        **changes: Any) -> dict[str, Any]:
    """The contract's MsgAck example: DERMS acknowledges the enrollment sync S-77."""
    code = ack_type
    body = {"messageId": message_id, "ackType": ack_type, "whenISO": "2026-12-04T10:00:00.000Z",
            "responses": [{"id": "E-1", "value": "2001234567" if code == "SUCCESS" else None,
                           "responseCode": code,
                           "responseText": "" if code == "SUCCESS" else "unknown program",
                           "responseTimeISO": "2026-12-04T10:00:00.000Z",
                           "dacsMessageId": sync_id}]}
    body.update(changes)
    return body


def send(stack: Any, body: dict[str, Any]) -> Any:
    return stack.post(PATH, as_client="derms", json=body)


def test_success_patches_the_sync_request_and_answers_200(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(redis_stack, ack("M-sa-ok", drmsInstanceId="DERMS1"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"messageId": "M-sa-ok", "status": "UPDATED",
                                   "syncRequests": [{"syncRequestId": "S-77",
                                                     "status": "UPDATED"}]}
    [call] = sandbox_control.calls(system="dacs", op="sync_request_update")
    assert call["method"] == "PATCH" and call["path"].endswith("/syncRequest/S-77")
    assert call["json"] == {"syncRequestId": "S-77", "hasError": False, "exceptionInfo": [],
                            "externalIds": {"E-1": "2001234567"}}
    assert mailbox.messages() == []


def test_a_negative_ack_is_passed_on_with_has_error(redis_stack: Any,
                                                    sandbox_control: Any) -> None:
    response = send(redis_stack, ack("M-sa-err", "ERROR", sync_id="S-78"))
    assert response.status_code == 200
    updates = sandbox_control.state()["dacs"]["syncRequestUpdates"]["S-78"]
    assert updates == [{"syncRequestId": "S-78", "hasError": True,
                        "exceptionInfo": [{"id": "E-1", "code": "ERROR",
                                           "message": "unknown program"}],
                        "externalIds": {}}]


def test_a_dacs_business_error_is_a_502_fault_with_the_email(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("dacs", "sync_request_update", status=404,
                         body={"status": "ERROR", "messageNbr": "11002",
                               "messageCategory": "11011", "message": "sync request not found"})
    response = send(redis_stack, ack("M-sa-404"))
    assert response.status_code == 502
    problem = response.get_json()
    assert problem["detail"] == "DACS answered HTTP 404: sync request not found"
    assert len(sandbox_control.calls(system="dacs", op="sync_request_update")) == 1
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "enrollment_sync_ack" in text and "M-sa-404" in text


def test_dacs_5xx_after_the_retries_is_a_502_and_a_replay_tries_again(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("dacs", "sync_request_update", status=500, times=3)
    response = send(redis_stack, ack("M-sa-500"))
    assert response.status_code == 502 and response.get_json()["downstreamStatus"] == 500
    assert len(sandbox_control.calls(system="dacs", op="sync_request_update")) == 3
    assert mailbox.wait(1)
    dead = [d for d in redis_stack.ledger.list_dead_letters(flow="enrollment_sync_ack")
            if d["job_id"] == response.get_json()["jobId"]]
    assert [d["step"] for d in dead] == ["enrollment_sync_ack.send"]
    again = send(redis_stack, ack("M-sa-500"))
    assert again.status_code == 200


def test_a_replayed_ack_is_not_sent_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, ack("M-sa-replay"))
    second = send(redis_stack, ack("M-sa-replay"))
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="dacs", op="sync_request_update")) == 1


@pytest.mark.parametrize("change,field", [
    ({"ackType": "MAYBE"}, "ackType"),
    ({"drmsInstanceId": "DERMS7"}, "drmsInstanceId"),
    ({"responses": [{"responseCode": "SUCCESS"}]}, "responses.0.dacsMessageId"),
])
def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any, change: dict[str, Any],
                                                     field: str) -> None:
    response = send(door, ack("M-sa-bad", **change))
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
