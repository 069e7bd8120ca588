"""Aggregator Sync end to end: door -> worker on Redis -> sandbox DERMS, then the ack to DACS."""

from __future__ import annotations

import time
from typing import Any

from support import wait_for
from tasks.app import queue_depth

PATH = "/api/v1/dacs/aggregator-syncs"


def aggregator_sync(sync_request_id: str) -> dict[str, Any]:
    return {"sendDetails": {"syncRequestId": sync_request_id},
            "aggregatorInfo": {"aggregatorId": "AG1", "aggregatorCode": "ECOBEE",
                               "name": "ecobee Inc.", "status": "ACTIVE",
                               "headEndSystem": "ECOBEE"},
            "programs": [{"programCode": "BYOT"}]}


def send(stack: Any, body: dict[str, Any], **headers: str) -> Any:
    return stack.post(PATH, as_client="dacs", json=body, headers=headers)


def sync_updates(sandbox_control: Any, sync_request_id: str) -> list[dict[str, Any]]:
    return wait_for(lambda: sandbox_control.state()["dacs"]["syncRequestUpdates"].get(
        sync_request_id), what=f"the ack of {sync_request_id}")


def test_derms_200_answers_dacs_then_the_ack_patches_the_sync_request(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(redis_stack, aggregator_sync("S-A1"), **{"X-Correlation-ID": "ags-ok"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"syncRequestId": "S-A1", "status": "SENT"}
    [derms_call] = sandbox_control.calls(system="derms", op="update_aggregator")
    assert derms_call["json"]["aggregatorCode"] == "ECOBEE"
    assert derms_call["json"]["programs"] == [{"programCode": "BYOT", "startDateTimeISO": None,
                                               "endDateTimeISO": None}]
    assert sync_updates(sandbox_control, "S-A1") == [{
        "syncRequestId": "S-A1", "hasError": False, "exceptionInfo": [],
        "externalIds": {"ECOBEE": "DERMS-AGGREGATOR-1"}}]
    wait_for(lambda: (j := redis_stack.ledger.get_job("ags-ok.ack")) and
             j["status"] == "SUCCEEDED", what="the ack job")
    assert mailbox.messages() == []


def test_a_derms_error_is_a_502_with_the_email_and_no_ack(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("derms", "update_aggregator", status=409,
                         body={"error": "CONFLICT", "message": "aggregator ECOBEE is locked"})
    response = send(redis_stack, aggregator_sync("S-A409"))
    assert response.status_code == 502
    assert response.get_json()["detail"] == "DERMS answered HTTP 409: aggregator ECOBEE is locked"
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "aggregator_sync" in text and "S-A409" in text
    time.sleep(0.3)
    assert sandbox_control.calls(system="dacs", op="sync_request_update") == []


def test_derms_5xx_after_the_retries_is_a_502_and_a_replay_tries_again(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("derms", "update_aggregator", status=500, times=3)
    response = send(redis_stack, aggregator_sync("S-A500"))
    assert response.status_code == 502 and response.get_json()["downstreamStatus"] == 500
    assert len(sandbox_control.calls(system="derms", op="update_aggregator")) == 3
    assert mailbox.wait(1)
    assert send(redis_stack, aggregator_sync("S-A500")).status_code == 200
    assert sync_updates(sandbox_control, "S-A500")[0]["hasError"] is False


def test_a_replayed_sync_is_not_sent_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, aggregator_sync("S-Areplay"))
    second = send(redis_stack, aggregator_sync("S-Areplay"))
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Idempotent-Replay"] == "true"
    sync_updates(sandbox_control, "S-Areplay")
    assert len(sandbox_control.calls(system="derms", op="update_aggregator")) == 1


def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any) -> None:
    body = aggregator_sync("S-Abad")
    body["aggregatorInfo"]["unexpected"] = True
    response = send(door, body)
    assert response.status_code == 400
    assert "aggregatorInfo.unexpected" in response.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
