"""Device Status Check Ack end to end: door -> real worker on Redis -> sandbox DACS."""

from __future__ import annotations

from typing import Any

from tasks.app import queue_depth

PATH = "/api/v1/derms/device-status-acks"


def status_ack(message_id: str, **changes: Any) -> dict[str, Any]:
    body = {"messageId": message_id, "ackType": "SUCCESS", "whenISO": "2026-12-04T10:00:00.000Z",
            "responses": [{"id": "NIC9", "value": "ONLINE", "responseCode": "SUCCESS",
                           "responseText": "", "responseTimeISO": "2026-12-04T09:59:00.000Z",
                           "dacsMessageId": "COMM-5"}]}
    body.update(changes)
    return body


def send(stack: Any, body: dict[str, Any]) -> Any:
    return stack.post(PATH, as_client="derms", json=body)


def test_success_answers_the_bo_status_as_response_code(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(redis_stack, status_ack("M-ds-ok"))
    assert response.status_code == 200, response.get_data(as_text=True)
    ack = response.get_json()
    assert ack["messageId"] == "M-ds-ok" and ack["ackType"] == "SUCCESS"
    assert [(r["id"], r["responseCode"]) for r in ack["responses"]] == [("COMM-5", "X1RECEIVED")]
    [stored] = sandbox_control.state()["dacs"]["deviceStatusResponses"]
    assert stored["communicationId"] == "COMM-5"
    assert stored["devices"][0]["nicId"] == "NIC9"
    assert stored["devices"][0]["deviceStatus"] == "ONLINE"
    assert mailbox.messages() == []


def test_a_dacs_business_error_is_a_failure_ack_and_the_email(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("dacs", "device_status_response", status=422,
                         body={"status": "VAL-ERROR", "messageNbr": "10002",
                               "messageCategory": "11011", "message": "unknown communication"})
    response = send(redis_stack, status_ack("M-ds-422"))
    assert response.status_code == 200
    ack = response.get_json()
    assert ack["ackType"] == "FAILURE"
    assert ack["responses"][0]["responseText"] == "DACS answered HTTP 422: unknown communication"
    assert len(sandbox_control.calls(system="dacs", op="device_status_response")) == 1
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "device_status_ack" in text and "M-ds-422" in text
    assert redis_stack.ledger.get_job(response.headers["X-Job-ID"])["status"] == "FAILED"


def test_dacs_5xx_after_the_retries_is_a_failure_ack_and_a_replay_retries(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("dacs", "device_status_response", status=502, times=3)
    response = send(redis_stack, status_ack("M-ds-5xx"))
    assert response.status_code == 200 and response.get_json()["ackType"] == "FAILURE"
    assert len(sandbox_control.calls(system="dacs", op="device_status_response")) == 3
    assert mailbox.wait(1)
    again = send(redis_stack, status_ack("M-ds-5xx"))
    assert again.status_code == 200 and again.get_json()["ackType"] == "SUCCESS"


def test_a_replayed_ack_is_not_posted_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, status_ack("M-ds-replay"))
    second = send(redis_stack, status_ack("M-ds-replay"))
    assert second.get_json() == first.get_json()
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="dacs", op="device_status_response")) == 1


def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any) -> None:
    response = send(door, status_ack("M-ds-bad", responses=[]))
    assert response.status_code == 400 and "responses" in response.get_json()["errors"]
    unknown = send(door, status_ack("M-ds-bad", drmsInstanceId="NOPE"))
    assert unknown.status_code == 400 and "drmsInstanceId" in unknown.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
