"""Recovery: the ledger, not the broker, is the source of truth.

Queued segment messages are deleted from the broker mid-file, a worker is killed mid-segment, a
worker restarts: the reconciler (Beat's tick, or the worker_ready signal) and acks_late
redelivery must finish each job exactly as if nothing had happened, posting every row and
sending one ack.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import support
from files.conftest import start_worker, worker_children
from files.filetools import (
    RESERVATIONS,
    accepted,
    reservation,
    reservation_csv,
    stage_message,
    upload,
    wait_acks,
    wait_job,
)

from tasks.app import celery_app

SMALL_SEGMENTS = {"dacs.file.segment.size": 100, "dacs.file.segment.deadline.seconds": 2}


def unique_stage() -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return stage_message(eventId=f"EV-{tag}", stageId=f"EV-{tag}-S1")


def progress(stack: Any, job_id: str) -> dict[str, Any]:
    return stack.get(f"/api/v1/jobs/{job_id}").get_json()


def wait_done(stack: Any, job_id: str, at_least: int) -> dict[str, Any]:
    return support.wait_for(
        lambda: (job := progress(stack, job_id))["progress"]["done"] >= at_least and job, 30,
        what=f"{at_least} segment(s) done")


def delete_redis_queue(stack: Any, queue: str) -> int:
    import redis

    client = redis.Redis.from_url(support.REDIS_URL)
    removed = 0
    for key in client.scan_iter(f"{stack.config['broker.key.prefix']}{queue}*"):
        removed += client.llen(key)
        client.delete(key)
    return removed


def delete_embedded_queue(stack: Any, queue: str) -> int:
    removed = 0
    for path in Path(stack.config.var_dir / "broker" / "queue").glob(f"*.{queue}.msg"):
        path.unlink()
        removed += 1
    return removed


def assert_every_row_reserved_and_one_success_ack(
        stack: Any, sandbox_control: Any, message: dict[str, Any], job_id: str, rows: int, *,
        once: bool = True) -> None:
    job = wait_job(stack, job_id, timeout=60)
    assert job["status"] == "SUCCEEDED", job
    assert job["progress"] == {"done": rows // 100, "total": rows // 100}
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    got = sorted(map(int, stored["recordIds"]))
    assert (got if once else sorted(set(got))) == list(range(1, rows + 1))
    acks = wait_acks(sandbox_control, "event_reservation_ack", message_id=message["messageId"])
    time.sleep(0.5)  # a second ack would come now, if there were one
    assert len(wait_acks(sandbox_control, "event_reservation_ack")) == 1
    assert acks[0]["ackType"] == "SUCCESS"


def test_segments_deleted_from_redis_mid_file_are_re_enqueued_by_the_reconciler(
        own_stack: Any, sandbox_control: Any) -> None:
    stack = own_stack("redis", concurrency=1, **SMALL_SEGMENTS)
    sandbox_control.switches("dacs", "reserve_device", latency_ms=150)
    message = unique_stage()
    job_id = accepted(post(stack, message, reservation_csv(1000)))
    wait_done(stack, job_id, 1)
    assert delete_redis_queue(stack, "hub.files") >= 5  # most of the 10 segments, gone
    # nothing is left to run: the job stalls with segments PENDING in the ledger
    time.sleep(1.0)
    stalled = progress(stack, job_id)
    assert stalled["status"] == "RUNNING" and stalled["progress"]["done"] < 10
    # the job's root task shows the same progress (what Flower and an AsyncResult see)
    root = celery_app.AsyncResult(job_id)
    assert root.state == "PROGRESS" and root.info == stalled["progress"]

    def tick() -> Any:  # what Beat does every minute
        return celery_app.send_task("housekeeping.reconcile").get(timeout=20)["segments"]

    resent = support.wait_for(tick, 20, interval=0.5, what="the reconciler to re-send segments")
    assert resent == 10 - stalled["progress"]["done"] or resent >= 1
    assert_every_row_reserved_and_one_success_ack(stack, sandbox_control, message, job_id,
                                                  1000)
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    assert stored["duplicates"] == 0
    events = [e for e in stack.ledger.job_events(job_id) if e["name"] == "housekeeping.reconcile"]
    assert events and events[0]["status"] == "RESENT"
    assert celery_app.AsyncResult(job_id).get(timeout=5) == {
        "done": 10, "total": 10, "ackType": "SUCCESS", "jobStatus": "SUCCEEDED"}


def test_a_killed_embedded_worker_and_lost_messages_are_picked_up_when_a_worker_starts(
        own_stack: Any, sandbox_control: Any) -> None:
    stack = own_stack("embedded", concurrency=2, **SMALL_SEGMENTS)
    sandbox_control.switches("dacs", "reserve_device", latency_ms=300)
    message = unique_stage()
    job_id = accepted(post(stack, message, reservation_csv(600)))
    wait_done(stack, job_id, 1)
    # the worker dies hard (its in-flight message dies with it: the embedded broker has no
    # redelivery) and the queued segments are lost too
    os.killpg(stack.worker.process.pid, signal.SIGKILL)
    stack.worker.process.wait(10)
    assert delete_embedded_queue(stack, "hub.files") >= 2
    assert progress(stack, job_id)["status"] == "RUNNING"
    time.sleep(2.5)  # past the deadline
    # no Beat here: the new worker's worker_ready signal runs the reconciler
    stack.worker = start_worker(stack)
    # A segment whose DACS call was in flight when the worker died may have reached DACS
    # before the ledger heard of it: it is sent again (at least once, never lost). At most the
    # two segments that were running can be posted twice.
    assert_every_row_reserved_and_one_success_ack(stack, sandbox_control, message, job_id,
                                                  600, once=False)
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    assert len(stored["recordIds"]) <= 600 + 2 * 100


def test_a_worker_child_killed_mid_segment_is_redelivered_and_counted_once(
        own_stack: Any, sandbox_control: Any) -> None:
    stack = own_stack("redis", concurrency=1, **{"dacs.file.segment.size": 100})
    sandbox_control.fail("dacs", "reserve_device", status=None, delay_ms=3000, times=1)
    message = unique_stage()
    job_id = accepted(post(stack, message, reservation_csv(300)))
    # the first segment is inside its (slow) DACS call: kill the process running it
    support.wait_for(lambda: (c := stack.ledger.get_chunk(job_id, 0)) and
                     c["updated_at"] != stack.ledger.get_chunks(job_id)[1]["updated_at"], 20,
                     interval=0.05, what="the first segment to start")
    time.sleep(0.5)
    children = worker_children(stack.worker)
    assert children
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    # acks_late + reject_on_worker_lost: Redis hands the message out again
    assert_every_row_reserved_and_one_success_ack(stack, sandbox_control, message, job_id, 300,
                                                  once=False)
    assert stack.ledger.get_chunk(job_id, 0)["attempts"] == 1  # counted once
    output = stack.worker.output
    assert "WorkerLostError" in output
    received = [line for line in output.splitlines()
                if "event_device_reservation.segment[" in line and "] received" in line]
    assert len(received) == 4  # three segments, one of them twice
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    # DACS may have got the killed call too (at-least-once); the ledger counted it once
    assert stored["duplicates"] in (0, 100)


def test_a_job_whose_chord_body_was_lost_is_finished_by_the_reconciler(
        own_stack: Any, sandbox_control: Any) -> None:
    stack = own_stack("redis", concurrency=2, **SMALL_SEGMENTS)
    message = unique_stage()
    job_id = accepted(post(stack, message, reservation_csv(200)))
    wait_job(stack, job_id, "SUCCEEDED")
    acks_before = len(wait_acks(sandbox_control, "event_reservation_ack"))
    # as if the body never ran: the ledger has every chunk DONE but no ack recorded
    stack.ledger.set_job(job_id, status="RUNNING")
    with stack.ledger.begin() as conn:
        from hub.ledger import jobs

        conn.execute(jobs.update().where(jobs.c.id == job_id).values(result=None))
    time.sleep(2.2)
    assert celery_app.send_task("housekeeping.reconcile").get(timeout=20)["finishes"] == 1
    job = wait_job(stack, job_id, "SUCCEEDED")
    assert job["result"]["ackType"] == "SUCCESS"
    assert len(wait_acks(sandbox_control, "event_reservation_ack", acks_before + 1)) == \
        acks_before + 1
    # and the next tick leaves the finished job alone
    time.sleep(2.2)
    assert celery_app.send_task("housekeeping.reconcile").get(timeout=20) == \
        {"segments": 0, "starts": 0, "finishes": 0}


def post(stack: Any, message: dict[str, Any], content: bytes) -> Any:
    return upload(stack, RESERVATIONS, message, content)
