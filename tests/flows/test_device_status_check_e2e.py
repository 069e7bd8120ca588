"""Device Status Check end to end: door -> real worker on Redis -> sandbox DERMS /status_check."""

from __future__ import annotations

from typing import Any

from support import example
from tasks.app import queue_depth

PATH = "/api/v1/dacs/device-status-checks"


def check(communication_id: str) -> dict[str, Any]:
    raw = example("device-status-check.json")
    raw["sendDetails"]["communicationId"] = communication_id
    return raw


def send(stack: Any, body: dict[str, Any]) -> Any:
    return stack.post(PATH, as_client="dacs", json=body)


def test_success_hands_the_check_to_derms_and_answers_200(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(redis_stack, check("COMM-ok"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"communicationId": "COMM-ok", "status": "SENT"}
    [call] = sandbox_control.calls(system="derms", op="status_check")
    assert call["json"]["communicationId"] == "COMM-ok"
    assert call["json"]["device"]["nicId"] == "NIC9"
    assert mailbox.messages() == []


def test_a_derms_400_is_a_502_fault_with_the_email(redis_stack: Any, sandbox_control: Any,
                                                   mailbox: Any) -> None:
    sandbox_control.fail("derms", "status_check", status=400,
                         body={"error": "BAD_REQUEST", "message": "unknown device NIC9"})
    response = send(redis_stack, check("COMM-400"))
    assert response.status_code == 502
    assert response.get_json()["detail"] == "DERMS answered HTTP 400: unknown device NIC9"
    assert len(sandbox_control.calls(system="derms", op="status_check")) == 1
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "device_status_check" in text and "COMM-400" in text


def test_derms_down_is_a_502_after_the_retries(redis_stack: Any, sandbox_control: Any,
                                               mailbox: Any) -> None:
    sandbox_control.switches("derms", down=True)
    response = send(redis_stack, check("COMM-down"))
    assert response.status_code == 502 and response.get_json()["downstreamStatus"] == 503
    assert len(sandbox_control.calls(system="derms", op="status_check")) == 3
    assert mailbox.wait(1)


def test_a_replayed_check_is_not_sent_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, check("COMM-replay"))
    second = send(redis_stack, check("COMM-replay"))
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="derms", op="status_check")) == 1


def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any) -> None:
    body = check("COMM-bad")
    del body["deviceInfo"]["nicid"]
    response = send(door, body)
    assert response.status_code == 400
    assert "deviceInfo.nicid" in response.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
