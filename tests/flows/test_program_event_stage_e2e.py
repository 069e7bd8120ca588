"""Program Event Status Update end to end: door -> real worker on Redis -> sandbox DACS."""

from __future__ import annotations

from typing import Any

import pytest

from support import example
from tasks.app import queue_depth

PATH = "/api/v1/derms/program-event-stages"


def stage(message_id: str, **changes: Any) -> dict[str, Any]:
    raw = example("program-event-stage.json")
    raw.update(messageId=message_id, **changes)
    return raw


def send(stack: Any, body: dict[str, Any]) -> Any:
    return stack.post(PATH, as_client="derms", json=body)


def test_scheduled_creates_and_the_next_statuses_action_the_program_event(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    created = send(redis_stack, stage("M-pe-1"))
    assert created.status_code == 200, created.get_data(as_text=True)
    ack = created.get_json()
    assert ack["ackType"] == "SUCCESS" and ack["messageId"] == "M-pe-1"
    program_event_id = ack["responses"][0]["value"]
    assert program_event_id.startswith("PE-") and ack["responses"][0]["id"] == "EV-1-S1"
    [call] = sandbox_control.calls(system="dacs", op="create_program_event")
    assert call["json"]["eventType"] == "X1EC" and call["json"]["externalIdentifier"] == "EV-1-S1"
    for number, (status, action) in enumerate(
            [("IN_PROGRESS", "X1IP"), ("COMPLETED", "F1CO")], start=2):
        response = send(redis_stack, stage(f"M-pe-{number}", stageStatus=status))
        assert response.status_code == 200 and response.get_json()["ackType"] == "SUCCESS"
        assert response.get_json()["responses"][0]["value"] == program_event_id
    assert sandbox_control.state()["dacs"]["programEvents"]["EV-1"]["actions"] == ["X1IP", "F1CO"]
    assert mailbox.messages() == []


def test_cancelled_sends_f1cn_with_the_reason(redis_stack: Any, sandbox_control: Any) -> None:
    response = send(redis_stack, stage("M-pe-cn", stageStatus="CANCELLED", cancelReason="storm"))
    assert response.status_code == 200
    [call] = sandbox_control.calls(system="dacs", op="action_program_event")
    assert call["json"]["action"] == "F1CN" and call["json"]["cancelReason"] == "storm"


def test_a_dacs_business_error_is_an_error_ack_and_the_email(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("dacs", "create_program_event", status=422,
                         body={"status": "VAL-ERROR", "messageNbr": "10003",
                               "messageCategory": "11011", "message": "program BYOT inactive"})
    response = send(redis_stack, stage("M-pe-422"))
    assert response.status_code == 200
    ack = response.get_json()
    assert ack["ackType"] == "ERROR"
    assert (ack["responses"][0]["responseCode"], ack["responses"][0]["responseText"]) == \
        ("ERROR", "program BYOT inactive")
    assert len(sandbox_control.calls(system="dacs", op="create_program_event")) == 1
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "program_event_stage" in text and "M-pe-422" in text


def test_dacs_down_is_a_failure_ack_after_the_retries_and_a_replay_retries(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.switches("dacs", down=True)
    response = send(redis_stack, stage("M-pe-down"))
    assert response.status_code == 200
    ack = response.get_json()
    assert ack["ackType"] == "FAILURE"
    assert ack["responses"][0]["responseText"].startswith("DACS answered HTTP 503")
    assert len(sandbox_control.calls(system="dacs", op="create_program_event")) == 3
    assert mailbox.wait(1)
    sandbox_control.switches("dacs", down=False)
    assert send(redis_stack, stage("M-pe-down")).get_json()["ackType"] == "SUCCESS"


def test_a_replayed_stage_is_not_sent_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, stage("M-pe-replay"))
    second = send(redis_stack, stage("M-pe-replay"))
    assert second.get_json() == first.get_json()
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="dacs", op="create_program_event")) == 1


@pytest.mark.parametrize("change,field", [({"eventType": "PEAK"}, "eventType"),
                                          ({"stageStatus": "DRAFT"}, "stageStatus"),
                                          ({"drmsInstanceId": "DERMS9"}, "drmsInstanceId")])
def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any, change: dict[str, Any],
                                                     field: str) -> None:
    response = send(door, stage("M-pe-bad", **change))
    assert response.status_code == 400 and field in response.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
