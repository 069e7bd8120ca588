"""Enrollment Request end to end: door -> real worker on Redis (a chord) -> sandbox DACS."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

import support
from support import example
from tasks.app import queue_depth

PATH = "/api/v1/derms/enrollment-requests"


def message(message_id: str) -> dict[str, Any]:
    raw = example("enrollment-request.json")
    raw["messageId"] = message_id
    return raw


def send(stack: Any, body: dict[str, Any], **headers: str) -> Any:
    return stack.post(PATH, as_client="derms", json=body, headers=headers)


def dead_letters(stack: Any, job_id: str) -> list[dict[str, Any]]:
    return [d for d in stack.ledger.list_dead_letters(flow="enrollment_request")
            if d["job_id"] == job_id]


def codes(response: Any) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["responseCode"], r["value"]) for r in response.get_json()["responses"]}


def test_success_enrolls_each_in_parallel_and_answers_one_response_each(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    """On both brokers: the embedded one's result backend joins the chord by polling."""
    redis_stack = stack
    # Each DACS call takes 400 ms: run one after the other, the second would end 400 ms later.
    sandbox_control.fail("dacs", "enroll", status=None, delay_ms=400, times=2)
    response = send(redis_stack, message(f"M-ok-{stack.kind}"),
                    **{"X-Correlation-ID": f"er-ok-{stack.kind}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    ack = response.get_json()
    assert ack["messageId"] == f"M-ok-{stack.kind}" and ack["ackType"] == "SUCCESS"
    assert [r["id"] for r in ack["responses"]] == ["E-1", "E-2"]   # the order of the request
    enrolled = {e["nicIds"][0]: e["enrollmentId"] for e in sandbox_control.state()["dacs"][
        "enrollments"]}
    assert codes(response) == {"E-1": ("SUCCESS", enrolled["NIC9"]),
                               "E-2": ("SUCCESS", enrolled["NIC10"])}
    calls = sandbox_control.calls(system="dacs", op="enroll")
    assert len(calls) == 2 and {c["correlationId"] for c in calls} == {f"er-ok-{stack.kind}"}
    first = next(c["json"] for c in calls if c["json"]["enrollmentRequestId"] == "E-1")
    assert (first["installationMethod"], first["assetOwnership"], first["devices"][0]["nicId"]) \
        == ("X1BD", "X1CU", "NIC9")
    ends = sorted(dt.datetime.fromisoformat(c["at"].replace("Z", "+00:00")) for c in calls)
    assert (ends[1] - ends[0]).total_seconds() < 0.3, "the enrollments did not run in parallel"
    job = redis_stack.get(f"/api/v1/jobs/er-ok-{stack.kind}", as_client="derms").get_json()
    assert job["status"] == "SUCCEEDED" and job["result"]["body"]["ackType"] == "SUCCESS"
    assert job["progress"] == {"done": 2, "total": 2}
    assert mailbox.messages() == []


def test_business_errors_are_per_enrollment_and_already_enrolled_counts_as_success(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    first = send(redis_stack, message("M-biz-1"))
    assert first.status_code == 200 and first.get_json()["ackType"] == "SUCCESS"
    # DERMS asks again (a new message) for E-1, whose device is enrolled now, and E-2 is refused
    sandbox_control.fail("dacs", "enroll", status=422, match={"enrollmentRequestId": "E-2"},
                         body={"status": "VAL-ERROR", "messageNbr": "10001",
                               "messageCategory": "11011", "message": "program BYOT is closed"})
    second = send(redis_stack, message("M-biz-2"))
    assert second.status_code == 200, second.get_data(as_text=True)
    ack = second.get_json()
    assert ack["ackType"] == "ERROR"
    by_id = {r["id"]: r for r in ack["responses"]}
    assert (by_id["E-1"]["responseCode"], by_id["E-1"]["responseText"]) == \
        ("SUCCESS", "Device already enrolled")                     # 10589
    assert (by_id["E-2"]["responseCode"], by_id["E-2"]["responseText"]) == \
        ("ERROR", "program BYOT is closed")
    assert len(sandbox_control.calls(system="dacs", op="enroll")) == 4   # business errors: no retry
    job = redis_stack.ledger.get_job(second.headers["X-Job-ID"])
    assert job["status"] == "SUCCEEDED"                                 # a business answer
    assert dead_letters(redis_stack, second.headers["X-Job-ID"]) == []
    time.sleep(0.5)
    assert mailbox.messages() == []


def test_an_unmapped_value_is_that_enrollments_error_without_a_dacs_call(
        redis_stack: Any, sandbox_control: Any) -> None:
    body = message("M-unmapped")
    body["enrollments"][1]["assetInfo"]["assetList"][0]["assetType"] = "HOT_TUB"
    response = send(redis_stack, body)
    assert response.status_code == 200
    assert response.get_json()["ackType"] == "ERROR"
    by_id = {r["id"]: r for r in response.get_json()["responses"]}
    assert by_id["E-1"]["responseCode"] == "SUCCESS"
    assert by_id["E-2"]["responseCode"] == "ERROR" and "_AssetType" in by_id["E-2"]["responseText"]
    assert [c["json"]["enrollmentRequestId"]
            for c in sandbox_control.calls(system="dacs", op="enroll")] == ["E-1"]


def test_a_technical_fault_is_that_enrollments_failure_and_one_email(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.fail("dacs", "enroll", status=503, times=-1,
                         match={"enrollmentRequestId": "E-2"})
    response = send(redis_stack, message("M-fault"))
    assert response.status_code == 200, response.get_data(as_text=True)
    ack = response.get_json()
    assert ack["ackType"] == "FAILURE"
    by_id = {r["id"]: r for r in ack["responses"]}
    assert by_id["E-1"]["responseCode"] == "SUCCESS" and by_id["E-1"]["value"].startswith("ENR-")
    assert by_id["E-2"]["responseCode"] == "FAILURE"
    assert by_id["E-2"]["responseText"].startswith("DACS answered HTTP 503")
    statuses = [c["status"] for c in sandbox_control.calls(system="dacs", op="enroll")
                if c["json"]["enrollmentRequestId"] == "E-2"]
    assert statuses == [503, 503, 503]                          # 1 + http.retry.max (2)
    job = redis_stack.ledger.get_job(response.headers["X-Job-ID"])
    assert job["status"] == "FAILED" and job["result"]["body"] == ack
    dead = dead_letters(redis_stack, response.headers["X-Job-ID"])
    assert [d["step"] for d in dead] == ["enrollment_request.enroll"]
    mail = mailbox.wait(1)[0]
    text = mail.get_body(("plain",)).get_content()
    assert "enrollment_request" in text and "M-fault" in text and "1 of 2 enrollments" in text


def test_dacs_down_fails_every_enrollment_with_a_single_email_and_a_replay_retries(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.switches("dacs", down=True)
    response = send(redis_stack, message("M-down"))
    assert response.status_code == 200
    assert response.get_json()["ackType"] == "FAILURE"
    assert {code for code, _ in codes(response).values()} == {"FAILURE"}
    assert len(sandbox_control.calls(system="dacs", op="enroll")) == 6
    assert len(mailbox.wait(1)) == 1
    time.sleep(0.7)
    assert len(mailbox.messages()) == 1, "one error email per request, not per enrollment"
    # DERMS re-sends a FAILURE'd message: once DACS is back, that is a new attempt
    sandbox_control.switches("dacs", down=False)
    again = send(redis_stack, message("M-down"))
    assert again.status_code == 200 and again.get_json()["ackType"] == "SUCCESS"
    assert "X-Idempotent-Replay" not in again.headers


def test_requeued_failed_enrollments_finish_the_job_and_the_replay_gets_success(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.switches("dacs", down=True)
    response = send(redis_stack, message("M-requeue"), **{"X-Correlation-ID": "er-requeue"})
    assert response.get_json()["ackType"] == "FAILURE"
    dead = dead_letters(redis_stack, "er-requeue")
    assert len(dead) == 2 and len(redis_stack.ledger.get_job("er-requeue")["errors"]) == 2
    assert mailbox.wait(1)
    sandbox_control.switches("dacs", down=False)
    # ops re-queues both at once: their merges into the job must not overwrite each other
    for entry in dead:
        answer = redis_stack.post(f"/api/v1/failed/{entry['id']}/requeue", as_client="ops")
        assert answer.status_code == 202, answer.get_data(as_text=True)
    job = support.wait_for(lambda: (j := redis_stack.ledger.get_job("er-requeue"))
                           and j["status"] == "SUCCEEDED" and j, what="the job to succeed")
    assert job["errors"] == []
    ack = job["result"]["body"]
    assert ack["messageId"] == "M-requeue" and ack["ackType"] == "SUCCESS"
    assert [(r["id"], r["responseCode"]) for r in ack["responses"]] == \
        [("E-1", "SUCCESS"), ("E-2", "SUCCESS")]
    # DERMS re-sends the message it got FAILURE for: the answer is now the finished job's
    again = send(redis_stack, message("M-requeue"))
    assert again.headers["X-Idempotent-Replay"] == "true" and again.get_json() == ack
    assert len(sandbox_control.calls(system="dacs", op="enroll")) == 6 + 2


def test_a_replayed_message_is_answered_again_without_calling_dacs(
        redis_stack: Any, sandbox_control: Any) -> None:
    first = send(redis_stack, message("M-replay"))
    second = send(redis_stack, message("M-replay"))
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert len(sandbox_control.calls(system="dacs", op="enroll")) == 2


@pytest.mark.parametrize("change,field", [
    ({"drmsInstanceId": "DERMS7"}, "drmsInstanceId"),
    ({"enrollments": []}, "enrollments"),
    ({"messageId": None}, "messageId"),
])
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_enqueued(
        door: Any, change: dict[str, Any], field: str) -> None:
    body = {**message("M-bad"), **change}
    response = send(door, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in problem["errors"]
    assert door.ledger.list_jobs() == [] and queue_depth("hub") == 0


def test_a_crashing_enroll_step_still_ends_the_job_with_a_failure_for_each(
        redis_stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    """The chord's error callback: a bug in one step must not leave the door waiting."""
    from tasks.app import celery_app

    body = message("M-crash")
    del body["enrollments"][1]["assetInfo"]   # past the schema, the mapping trips over it
    redis_stack.ledger.create_job("er-crash", "enrollment_request", client="derms",
                                  message_id="M-crash", input={"message": body})
    celery_app.send_task("enrollment_request.send", kwargs={"message": body, "job_id": "er-crash"},
                         task_id="er-crash")
    job = support.wait_for(lambda: (j := redis_stack.ledger.get_job("er-crash"))
                           and j["status"] == "FAILED" and j, what="the job to fail")
    ack = job["result"]["body"]
    assert ack["messageId"] == "M-crash" and ack["ackType"] == "FAILURE"
    assert [(r["id"], r["responseCode"]) for r in ack["responses"]] == \
        [("E-1", "FAILURE"), ("E-2", "FAILURE")]
    dead = dead_letters(redis_stack, "er-crash")
    assert [d["step"] for d in dead] == ["enrollment_request.enroll"]
    assert "KeyError: 'assetInfo'" in dead[0]["error"]
    assert len(mailbox.wait(1)) == 1


# -- timeouts: a stack whose outbound calls give up after 0.3 s ------------------------------------
@pytest.fixture(scope="module")
def timeout_stack(sandbox: Any, mail_sink: Any,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from conftest import _start_stack

    stack = _start_stack("redis", sandbox, mail_sink, tmp_path_factory.mktemp("hub-timeout"),
                         **{"http.timeout.seconds": 0.3})
    yield stack
    assert stack.worker is not None
    stack.worker.stop()


def test_a_timeout_is_retried_then_a_failure(timeout_stack: Any, sandbox_control: Any,
                                             mailbox: Any) -> None:
    stack = timeout_stack.activate()
    # E-1's first call is slow (timed out, retried, then fine); E-2's every call is slow.
    sandbox_control.fail("dacs", "enroll", status=None, delay_ms=600, times=1,
                         match={"enrollmentRequestId": "E-1"})
    sandbox_control.fail("dacs", "enroll", status=None, delay_ms=600, times=-1,
                         match={"enrollmentRequestId": "E-2"})
    response = send(stack, message("M-timeout"))
    assert response.status_code == 200, response.get_data(as_text=True)
    by_id = {r["id"]: r for r in response.get_json()["responses"]}
    assert by_id["E-1"]["responseCode"] == "SUCCESS"
    assert by_id["E-2"]["responseCode"] == "FAILURE"
    assert "timed out" in by_id["E-2"]["responseText"]
    assert response.get_json()["ackType"] == "FAILURE"
    assert len(mailbox.wait(1)) == 1
    # every attempt reached DACS (which did the work, too late): 1 + http.retry.max (2)
    support.wait_for(lambda: len([c for c in sandbox_control.calls(system="dacs", op="enroll")
                                  if c["json"]["enrollmentRequestId"] == "E-2"]) == 3,
                     what="the three slow calls of E-2")
