"""Both file flows end to end: door -> real worker (embedded broker and Redis) -> sandbox over HTTP.

Every test posts a file as DERMS would, lets the worker run the health check, the segment chord
and the ack, and checks what the simulated DACS and DERMS received, the job, and the mail.
"""

from __future__ import annotations

import uuid
from typing import Any

import support
from files.filetools import (
    OUTCOME_COLUMNS,
    OUTCOMES,
    RESERVATION_COLUMNS,
    RESERVATIONS,
    accepted,
    outcome_message,
    outcome_row,
    reservation,
    reservation_csv,
    reservation_row,
    stage_message,
    to_csv,
    upload,
    wait_acks,
    wait_job,
    wait_mails,
)
from support import EXAMPLES


def unique_stage() -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return stage_message(eventId=f"EV-{tag}", stageId=f"EV-{tag}-S1")


def test_reservation_not_a_multiple_of_1000_rows_in_another_column_order(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    columns = ("deviceType", "headEndSystem", "note", "nicId", "servicePointId", "recordId")
    message = unique_stage()
    job_id = accepted(upload(stack, RESERVATIONS, message, reservation_csv(2500, columns)))
    job = wait_job(stack, job_id)
    assert job["status"] == "SUCCEEDED", job
    assert job["progress"] == {"done": 3, "total": 3}
    assert job["result"]["ackType"] == "SUCCESS" and job["result"]["rows"] == 2500
    calls = sandbox_control.calls(system="dacs", op="reserve_device")
    assert sorted(c["json"]["deviceList"]["count"] for c in calls) == [500, 1000, 1000]
    assert all(c["correlationId"] == job_id for c in calls)
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    assert stored["recordIds"] == [str(i) for i in range(1, 2501)] or \
        sorted(map(int, stored["recordIds"])) == list(range(1, 2501))
    assert stored["duplicates"] == 0
    [ack] = wait_acks(sandbox_control, "event_reservation_ack", message_id=message["messageId"])
    assert ack["ackType"] == "SUCCESS"
    assert ack["eventId"] == message["eventId"] and ack["stageId"] == message["stageId"]
    assert ack["responses"][0]["responseCode"] == "SUCCESS"
    [mail] = wait_mails(mailbox, job_id)
    assert mail["To"] == "ops@utility.test"  # the process-complete email, and no error email
    text = mail.get_body(("plain",)).get_content()
    assert "event_device_reservation" in text and "SUCCEEDED" in text and job_id in text
    assert sandbox_control.calls(system="dacs", op="health_check")


def test_reservation_of_exactly_1000_rows_is_one_segment(stack: Any, sandbox_control: Any) -> None:
    message = unique_stage()
    job_id = accepted(upload(stack, RESERVATIONS, message, reservation_csv(1000)))
    job = wait_job(stack, job_id)
    assert job["status"] == "SUCCEEDED" and job["progress"] == {"done": 1, "total": 1}
    [call] = sandbox_control.calls(system="dacs", op="reserve_device")
    assert call["json"]["deviceList"] == {"count": 1000, "firstRecordId": "1",
                                          "lastRecordId": "1000"}
    assert call["json"]["eventExternalIdentifier"] == message["eventId"]
    assert call["json"]["externalIdentifier"] == message["stageId"]


def test_the_contract_sample_reservation(stack: Any, sandbox_control: Any) -> None:
    message = stage_message()  # the contract's stage, EV-1 / EV-1-S1
    content = (EXAMPLES / "event-device-reservation.csv").read_bytes()
    job = wait_job(stack, accepted(upload(stack, RESERVATIONS, message, content)))
    assert job["status"] == "SUCCEEDED"
    stored = reservation(sandbox_control, "EV-1", "EV-1-S1")
    assert stored["recordIds"] == ["1", "2", "3"]


def test_outcome_file_spanning_three_events(stack: Any, sandbox_control: Any,
                                            mailbox: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    events = [f"EV-{tag}-{n}" for n in (1, 2, 3)]
    # 2100 rows: event 1 for rows 1-900, event 2 for 901-1500, event 3 for the rest
    rows = [outcome_row(i, events[0] if i <= 900 else events[1] if i <= 1500 else events[2])
            for i in range(1, 2101)]
    message = outcome_message()
    job_id = accepted(upload(stack, OUTCOMES, message, to_csv(OUTCOME_COLUMNS, rows)))
    job = wait_job(stack, job_id)
    assert job["status"] == "SUCCEEDED", job
    calls = sandbox_control.calls(system="dacs", op="post_event_outcome")
    per_call = sorted((c["json"]["eventExternalIdentifier"], c["json"]["postOutcomeList"]["count"])
                      for c in calls)
    # segment 1: 900 of event 1 + 100 of event 2; segment 2: 500 of event 2 + 500 of event 3;
    # segment 3: 100 of event 3. Each call carries one event.
    assert per_call == sorted([(events[0], 900), (events[1], 100), (events[1], 500),
                               (events[2], 500), (events[2], 100)])
    outcomes = {o["eventExternalIdentifier"]: o
                for o in sandbox_control.state()["dacs"]["outcomes"]}
    assert outcomes[events[0]]["count"] == 900 and outcomes[events[2]]["count"] == 600
    assert outcomes[events[0]]["byOutcome"] == {"D1SP": 180, "D1ER": 180, "D1ND": 180,
                                                "D1IO": 180, "D1CN": 180}
    [ack] = wait_acks(sandbox_control, "event_outcome_ack", message_id=message["messageId"])
    assert ack["ackType"] == "SUCCESS" and "eventId" not in ack
    assert wait_mails(mailbox, job_id)[0]["To"] == "ops@utility.test"


def test_the_contract_sample_outcomes_make_one_call_per_event(stack: Any,
                                                             sandbox_control: Any) -> None:
    content = (EXAMPLES / "event-device-outcome.csv").read_bytes()
    job = wait_job(stack, accepted(upload(stack, OUTCOMES, outcome_message(), content)))
    assert job["status"] == "SUCCEEDED"
    calls = sandbox_control.calls(system="dacs", op="post_event_outcome")
    assert sorted((c["json"]["eventExternalIdentifier"], c["json"]["postOutcomeList"]["count"])
                  for c in calls) == [("EV-1", 2), ("EV-2", 1)]
    outcomes = {o["eventExternalIdentifier"]: o["byOutcome"]
                for o in sandbox_control.state()["dacs"]["outcomes"]}
    assert outcomes == {"EV-1": {"D1SP": 1, "D1ND": 1}, "EV-2": {"D1IO": 1}}


def test_a_segment_that_fails_permanently_then_its_requeue_succeeds(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    message = unique_stage()
    # the second segment's exact device list: only that segment's call matches, every time
    second = [{k: reservation_row(i)[k] for k in ("recordId", "nicId", "headEndSystem")}
              for i in range(1001, 2001)]
    sandbox_control.fail("dacs", "reserve_device", status=500, times=-1,
                         match={"deviceList": second})
    job_id = accepted(upload(stack, RESERVATIONS, message, reservation_csv(2300)))
    job = wait_job(stack, job_id)
    assert job["status"] == "FAILED", job
    assert job["progress"] == {"done": 3, "total": 3}
    assert job["result"]["ackType"] == "FAILURE" and job["result"]["segmentsFailed"] == 1
    [ack] = wait_acks(sandbox_control, "event_reservation_ack", message_id=message["messageId"])
    assert ack["ackType"] == "FAILURE"
    named = [r for r in ack["responses"] if r["id"] == "rows 1001-2000"]
    assert named and "HTTP 500" in named[0]["responseText"]
    statuses = [c["status"] for c in sandbox_control.calls(system="dacs", op="reserve_device")]
    assert statuses.count(500) == 3  # 1 + http.retry.max (2), then given up
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    assert stored["count"] == 1300 and stored["duplicates"] == 0
    mails = wait_mails(mailbox, job_id, 2)
    assert sorted(m["To"] for m in mails) == ["errors@utility.test", "ops@utility.test"]
    [error_mail] = [m for m in mails if m["To"] == "errors@utility.test"]
    text = error_mail.get_body(("plain",)).get_content()
    assert "1 of 3 segment(s) failed" in text and "rows 1001-2000" in text
    assert "Downstream status: 500" in text
    # the dead letter keeps the segment's input reference, not its rows
    [dead] = [d for d in stack.ledger.list_dead_letters(flow="event_device_reservation")
              if d["job_id"] == job_id]
    assert dead["step"] == "event_device_reservation.segment"
    kwargs = dead["input"]["kwargs"]
    assert kwargs["seq"] == 1 and kwargs["segment"]["row"] == 1001
    assert kwargs["segment"]["rows"] == 1000 and "deviceList" not in str(kwargs)
    # ops fix DACS and re-queue that segment alone: the job finishes as if it had not failed
    sandbox_control.reset()
    mailbox.clear()
    requeued = stack.post(f"/api/v1/failed/{dead['id']}/requeue", as_client="ops")
    assert requeued.status_code == 202, requeued.get_data(as_text=True)
    job = wait_job(stack, job_id, "SUCCEEDED")
    assert job["result"]["ackType"] == "SUCCESS" and job["errors"] == []
    [again] = wait_acks(sandbox_control, "event_reservation_ack")
    assert again["ackType"] == "SUCCESS" and again["messageId"] == message["messageId"]
    [call] = sandbox_control.calls(system="dacs", op="reserve_device")
    assert call["json"]["deviceList"]["firstRecordId"] == "1001"
    assert wait_mails(mailbox, job_id)[0]["To"] == "ops@utility.test"


def test_a_segment_that_fails_once_then_succeeds(stack: Any, sandbox_control: Any,
                                                 mailbox: Any) -> None:
    message = unique_stage()
    sandbox_control.fail("dacs", "reserve_device", status=503, times=1)
    job_id = accepted(upload(stack, RESERVATIONS, message, reservation_csv(1500)))
    job = wait_job(stack, job_id)
    assert job["status"] == "SUCCEEDED" and job["result"]["ackType"] == "SUCCESS"
    statuses = sorted(c["status"]
                      for c in sandbox_control.calls(system="dacs", op="reserve_device"))
    assert statuses == [200, 200, 503]
    assert reservation(sandbox_control, message["eventId"], message["stageId"])["count"] == 1500
    assert [m["To"] for m in wait_mails(mailbox, job_id)] == ["ops@utility.test"]


def test_dacs_health_check_down_is_a_failure_ack_and_nothing_posted(
        stack: Any, sandbox_control: Any, mailbox: Any) -> None:
    sandbox_control.switches("dacs", "health_check", down=True)
    message = outcome_message()
    content = (EXAMPLES / "event-device-outcome.csv").read_bytes()
    job_id = accepted(upload(stack, OUTCOMES, message, content))
    job = wait_job(stack, job_id)
    assert job["status"] == "FAILED"
    assert job["result"]["ackType"] == "FAILURE"
    assert len(sandbox_control.calls(system="dacs", op="health_check")) == 3
    assert sandbox_control.calls(system="dacs", op="post_event_outcome") == []
    [ack] = wait_acks(sandbox_control, "event_outcome_ack", message_id=message["messageId"])
    assert ack["ackType"] == "FAILURE"
    assert "health_check" in ack["responses"][0]["responseText"]
    assert "503" in ack["responses"][0]["responseText"]
    [mail] = wait_mails(mailbox, job_id)
    assert mail["To"] == "errors@utility.test"
    # DERMS re-sends a FAILURE'd message; with DACS back it is a new attempt that succeeds
    sandbox_control.switches("dacs", "health_check", down=False)
    again = wait_job(stack, accepted(upload(stack, OUTCOMES, message, content)))
    assert again["status"] == "SUCCEEDED" and again["jobId"] != job["jobId"]


def test_row_problems_are_a_failure_ack_naming_the_rows(stack: Any, sandbox_control: Any,
                                                        mailbox: Any) -> None:
    rows = [outcome_row(i, "EV-ROWS") for i in range(1, 11)]
    rows[3]["outcome"] = "MAYBE"
    rows[6]["nicId"] = ""
    message = outcome_message()
    job_id = accepted(upload(stack, OUTCOMES, message, to_csv(OUTCOME_COLUMNS, rows)))
    job = wait_job(stack, job_id)
    assert job["status"] == "FAILED" and job["result"]["rowsRefused"] == 2
    [ack] = wait_acks(sandbox_control, "event_outcome_ack", message_id=message["messageId"])
    assert ack["ackType"] == "FAILURE"
    named = {r["id"]: r for r in ack["responses"][1:]}
    assert named["4"]["value"] == "row 4" and "MAYBE" in named["4"]["responseText"]
    assert named["7"]["responseText"] == "nicId is empty"
    # the good rows still went to DACS
    [call] = sandbox_control.calls(system="dacs", op="post_event_outcome")
    assert call["json"]["postOutcomeList"]["count"] == 8
    assert sorted(m["To"] for m in wait_mails(mailbox, job_id, 2)) == [
        "errors@utility.test", "ops@utility.test"]


def test_an_empty_file_is_a_failure_ack(stack: Any, sandbox_control: Any) -> None:
    message = unique_stage()
    content = ",".join(RESERVATION_COLUMNS).encode() + b"\n"
    job = wait_job(stack, accepted(upload(stack, RESERVATIONS, message, content)))
    assert job["status"] == "FAILED" and job["progress"] == {"done": 0, "total": 0}
    [ack] = wait_acks(sandbox_control, "event_reservation_ack", message_id=message["messageId"])
    assert ack["ackType"] == "FAILURE"
    assert ack["responses"][0]["responseText"] == "the file has no rows"
    assert sandbox_control.calls(system="dacs", op="reserve_device") == []


def test_the_same_message_twice_is_processed_once(stack: Any, sandbox_control: Any) -> None:
    message = unique_stage()
    content = reservation_csv(20)
    job_id = accepted(upload(stack, RESERVATIONS, message, content))
    wait_job(stack, job_id, "SUCCEEDED")
    again = upload(stack, RESERVATIONS, message, content)
    assert again.status_code == 202 and again.get_json()["jobId"] == job_id
    assert len(sandbox_control.calls(system="dacs", op="reserve_device")) == 1
    assert len(wait_acks(sandbox_control, "event_reservation_ack")) == 1


def test_a_redelivered_segment_is_not_posted_or_counted_again(stack: Any,
                                                              sandbox_control: Any) -> None:
    job_id = accepted(upload(stack, RESERVATIONS, unique_stage(), reservation_csv(1200)))
    wait_job(stack, job_id, "SUCCEEDED")
    chunk = stack.ledger.get_chunk(job_id, 1)
    from tasks.app import celery_app

    result = celery_app.send_task("event_device_reservation.segment",
                                  kwargs={**chunk["ref"], "seq": 1, "job_id": job_id})
    assert result.get(timeout=20) == {"seq": 1, "status": "DONE", "redelivered": True}
    support.wait_for(lambda: len(sandbox_control.calls(system="derms")) >= 1, 10)
    assert len(sandbox_control.calls(system="dacs", op="reserve_device")) == 2
    job = stack.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["progress"] == {"done": 2, "total": 2} and job["status"] == "SUCCEEDED"
    assert stack.ledger.get_chunk(job_id, 1)["attempts"] == 1
    assert len(wait_acks(sandbox_control, "event_reservation_ack")) == 1


def test_a_bad_header_and_an_oversize_upload_are_refused_and_nothing_runs(
        stack: Any, sandbox_control: Any) -> None:
    from pathlib import Path

    staging = Path(stack.config.staging_url)
    before = sorted(staging.iterdir()) if staging.exists() else []
    message = unique_stage()
    bad = upload(stack, RESERVATIONS, message,
                 to_csv(("recordId", "headEndSystem", "servicePointId"), [{"recordId": "1"}]))
    assert bad.status_code == 400
    assert bad.get_json()["errors"] == {"file.header": ["missing column nicId"]}
    limit = stack.app.config["MAX_CONTENT_LENGTH"]
    stack.app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        big = upload(stack, OUTCOMES, outcome_message(), to_csv(
            OUTCOME_COLUMNS, [outcome_row(i, "EV-BIG") for i in range(1, 200)]))
    finally:
        stack.app.config["MAX_CONTENT_LENGTH"] = limit
    assert big.status_code == 413
    assert (sorted(staging.iterdir()) if staging.exists() else []) == before
    # the same message with a good file is taken: the refusal kept nothing, not even the key
    job = wait_job(stack, accepted(upload(stack, RESERVATIONS, message, reservation_csv(3))))
    assert job["status"] == "SUCCEEDED"
    assert len(sandbox_control.calls(system="dacs", op="reserve_device")) == 1
    assert sandbox_control.calls(system="dacs", op="post_event_outcome") == []


def test_an_unknown_derms_instance_is_a_failure_ack_naming_it(redis_stack: Any,
                                                              sandbox_control: Any) -> None:
    message = outcome_message(drmsInstanceId="DERMS-NOWHERE")
    content = (EXAMPLES / "event-device-outcome.csv").read_bytes()
    job = wait_job(redis_stack, accepted(upload(redis_stack, OUTCOMES, message, content)))
    assert job["status"] == "FAILED"
    [ack] = wait_acks(sandbox_control, "event_outcome_ack", message_id=message["messageId"])
    assert ack["ackType"] == "FAILURE" and "DERMS-NOWHERE" in ack["responses"][0]["responseText"]
    assert sandbox_control.calls(system="dacs") == []
