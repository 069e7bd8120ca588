"""Customer Event Opt Out end to end: door -> real worker on Redis -> sandbox DERMS."""

from __future__ import annotations

from typing import Any

from tasks.app import queue_depth

PATH = "/api/v1/dacs/event-opt-outs"


def opt_out(communication_id: str) -> dict[str, Any]:
    return {"sendDetails": {"communicationId": communication_id},
            "eventInfo": {"programEventId": "PE-1", "eventExternalIdentifier": "EV-1",
                          "externalIdentifier": "EV-1-S1", "programCode": "BYOT"},
            "preemptiveOptOut": True, "optOutDateTime": "2026-12-05T12:00:00.000Z",
            "controllableDevices": [{"nicId": "NIC9", "headEndSystem": "ECOBEE"}]}


def send(stack: Any, body: dict[str, Any]) -> Any:
    return stack.post(PATH, as_client="dacs", json=body)


def test_derms_success_is_200(redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(redis_stack, opt_out("OPT-ok"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"communicationId": "OPT-ok", "ackType": "SUCCESS"}
    [stored] = sandbox_control.state()["derms"]["optOuts"]
    assert stored["eventId"] == "EV-1" and stored["devices"][0]["nicId"] == "NIC9"
    assert mailbox.messages() == []


def test_a_negative_derms_ack_is_a_502_fault_with_the_email(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("derms", "event_opt_out", status=200, body={
        "messageId": "OPT-neg", "ackType": "FAILURE", "whenISO": "2026-12-05T12:00:01.000Z",
        "responses": [{"id": "NIC9", "responseCode": "FAILURE",
                       "responseText": "event EV-1 already started"}]})
    response = send(redis_stack, opt_out("OPT-neg"))
    assert response.status_code == 502
    assert response.get_json()["detail"] == \
        "DERMS answered HTTP 200: acknowledged FAILURE: event EV-1 already started"
    assert len(sandbox_control.calls(system="derms", op="event_opt_out")) == 1  # not retried
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "event_opt_out" in text and "OPT-neg" in text


def test_derms_5xx_after_the_retries_is_a_502_and_a_replay_tries_again(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("derms", "event_opt_out", status=500, times=3)
    response = send(redis_stack, opt_out("OPT-500"))
    assert response.status_code == 502 and response.get_json()["downstreamStatus"] == 500
    assert len(sandbox_control.calls(system="derms", op="event_opt_out")) == 3
    assert mailbox.wait(1)
    assert send(redis_stack, opt_out("OPT-500")).status_code == 200


def test_a_replayed_opt_out_is_not_sent_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, opt_out("OPT-replay"))
    second = send(redis_stack, opt_out("OPT-replay"))
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="derms", op="event_opt_out")) == 1


def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any) -> None:
    body = opt_out("OPT-bad")
    body["controllableDevices"] = []
    response = send(door, body)
    assert response.status_code == 400
    assert "controllableDevices" in response.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
