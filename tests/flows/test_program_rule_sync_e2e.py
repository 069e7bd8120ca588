"""Program Rule Sync end to end: door -> worker on Redis -> sandbox DERMS, then the ack to DACS."""

from __future__ import annotations

import time
from typing import Any

from support import wait_for
from tasks.app import queue_depth

PATH = "/api/v1/dacs/program-rule-syncs"


def rule_sync(sync_request_id: str) -> dict[str, Any]:
    return {"sendDetails": {"syncRequestId": sync_request_id},
            "programInfo": {"programId": "PG1", "programCode": "BYOT", "status": "ACTIVE"},
            "programRules": [{"ruleId": "R1", "ruleType": "MAX_EVENTS_PER_MONTH",
                              "ruleValue": "4", "unit": "EVENTS"}]}


def send(stack: Any, body: dict[str, Any], **headers: str) -> Any:
    return stack.post(PATH, as_client="dacs", json=body, headers=headers)


def sync_updates(sandbox_control: Any, sync_request_id: str) -> list[dict[str, Any]]:
    return wait_for(lambda: sandbox_control.state()["dacs"]["syncRequestUpdates"].get(
        sync_request_id), what=f"the ack of {sync_request_id}")


def test_derms_200_answers_dacs_then_the_ack_patches_the_sync_request(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    response = send(redis_stack, rule_sync("S-90"), **{"X-Correlation-ID": "prs-ok"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"syncRequestId": "S-90", "status": "SENT"}
    [derms_call] = sandbox_control.calls(system="derms", op="update_program")
    assert derms_call["json"]["rules"][0]["ruleType"] == "MAX_EVENTS_PER_MONTH"
    assert sync_updates(sandbox_control, "S-90") == [{
        "syncRequestId": "S-90", "hasError": False, "exceptionInfo": [],
        "externalIds": {"BYOT": "DERMS-PROGRAM-1"}}]
    [patch] = sandbox_control.calls(system="dacs", op="sync_request_update")
    assert patch["method"] == "PATCH" and patch["correlationId"] == "prs-ok.ack"
    ack_job = wait_for(lambda: (j := redis_stack.ledger.get_job("prs-ok.ack"))
                       and j["status"] == "SUCCEEDED" and j, what="the ack job")
    assert ack_job["flow"] == "program_rule_sync" and ack_job["message_id"] == "S-90"
    assert ack_job["result"]["externalIds"] == {"BYOT": "DERMS-PROGRAM-1"}
    assert mailbox.messages() == []


def test_a_negative_derms_ack_reaches_dacs_as_has_error(redis_stack: Any,
                                                       sandbox_control: Any) -> None:
    sandbox_control.fail("derms", "update_program", status=200, body={
        "messageId": "S-91", "ackType": "ERROR", "whenISO": "2026-12-04T10:00:00.000Z",
        "responses": [{"id": "BYOT", "value": None, "responseCode": "ERROR",
                       "responseText": "rule R1 unknown", "dacsMessageId": "S-91"}]})
    response = send(redis_stack, rule_sync("S-91"))
    assert response.status_code == 200
    [update] = sync_updates(sandbox_control, "S-91")
    assert update["hasError"] is True
    assert update["exceptionInfo"] == [{"id": "BYOT", "code": "ERROR",
                                        "message": "rule R1 unknown"}]


def test_a_derms_error_is_a_502_with_the_email_and_no_ack(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("derms", "update_program", status=400,
                         body={"error": "BAD_REQUEST", "message": "programCode missing"})
    response = send(redis_stack, rule_sync("S-400"))
    assert response.status_code == 502
    assert response.get_json()["detail"] == "DERMS answered HTTP 400: programCode missing"
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "program_rule_sync" in text and "S-400" in text
    time.sleep(0.3)
    assert sandbox_control.calls(system="dacs", op="sync_request_update") == []
    assert redis_stack.ledger.get_job(response.get_json()["jobId"] + ".ack") is None


def test_derms_down_is_a_502_after_the_retries(redis_stack: Any, sandbox_control: Any,
                                               mailbox: Any) -> None:
    sandbox_control.switches("derms", down=True)
    response = send(redis_stack, rule_sync("S-down"))
    assert response.status_code == 502 and response.get_json()["downstreamStatus"] == 503
    assert len(sandbox_control.calls(system="derms", op="update_program")) == 3
    assert mailbox.wait(1)


def test_a_failed_ack_is_its_own_failed_job_with_a_dead_letter_and_the_email(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.switches("dacs", down=True)
    response = send(redis_stack, rule_sync("S-ackfail"), **{"X-Correlation-ID": "prs-ackfail"})
    assert response.status_code == 200                    # DERMS took it: DACS hears 200
    ack_job = wait_for(lambda: (j := redis_stack.ledger.get_job("prs-ackfail.ack"))
                       and j["status"] == "FAILED" and j, what="the failed ack job")
    assert ack_job["errors"][0]["status"] == 503
    assert len(sandbox_control.calls(system="dacs", op="sync_request_update")) == 3
    dead = [d for d in redis_stack.ledger.list_dead_letters(flow="program_rule_sync")
            if d["job_id"] == "prs-ackfail.ack"]
    assert [d["step"] for d in dead] == ["program_rule_sync.ack"]
    text = mailbox.wait(1)[0].get_body(("plain",)).get_content()
    assert "program_rule_sync.ack" in text
    assert redis_stack.ledger.get_job("prs-ackfail")["status"] == "SUCCEEDED"


def test_a_replayed_sync_is_not_sent_twice(redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, rule_sync("S-replay"))
    second = send(redis_stack, rule_sync("S-replay"))
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Idempotent-Replay"] == "true"
    sync_updates(sandbox_control, "S-replay")
    time.sleep(0.3)
    assert len(sandbox_control.calls(system="derms", op="update_program")) == 1
    assert len(sandbox_control.calls(system="dacs", op="sync_request_update")) == 1


def test_bad_input_is_a_400_and_nothing_is_enqueued(door: Any) -> None:
    body = rule_sync("S-bad")
    del body["programInfo"]["programCode"]
    response = send(door, body)
    assert response.status_code == 400
    assert "programInfo.programCode" in response.get_json()["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0
