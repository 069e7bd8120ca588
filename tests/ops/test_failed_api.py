"""The dead-letter HTTP API: list, show, re-queue (one, twice, many), discard, and who may."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import support
from conftest import Stack
from ops.ops_support import fail_enrollment_sync, unique, wait_job

FAILED = "/api/v1/failed"


def test_a_step_that_failed_for_good_runs_again_after_the_sandbox_recovers(
        ops: Stack, sandbox_control: Any) -> None:
    job_id, entry = fail_enrollment_sync(ops, sandbox_control, down=True)
    assert wait_job(ops, job_id, "FAILED")
    assert len(sandbox_control.calls(system="derms", op="enroll")) == 3  # 1 + 2 retries, all 503

    listed = ops.get(FAILED, query_string={"flow": "enrollment_sync"}).get_json()["failed"]
    mine = [d for d in listed if d["jobId"] == job_id]
    assert len(mine) == 1
    document = mine[0]
    assert document["id"] == entry["id"] and document["status"] == "OPEN"
    assert document["step"] == "enrollment_sync.send" and document["flow"] == "enrollment_sync"
    assert document["attempts"] == 3 and "503" in document["error"]
    shown = ops.get(f"{FAILED}/{entry['id']}").get_json()
    assert shown["input"]["kwargs"]["job_id"] == job_id
    assert shown["input"]["kwargs"]["message"]["sendDetails"]["syncRequestId"] == f"S-{job_id}"

    sandbox_control.switches("derms", down=False)
    response = ops.post(f"{FAILED}/{entry['id']}/requeue", as_client="ops")
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "REQUEUED" and body["jobId"] == job_id
    assert body["taskId"].startswith(f"{job_id}.rq-")

    job = wait_job(ops, job_id, "SUCCEEDED")
    assert job["result"] == {"status": 200, "body": {"externalId": f"S-{job_id}"}}
    assert job["errors"] == []
    assert [c["status"] for c in sandbox_control.calls(system="derms", op="enroll")] == \
        [503, 503, 503, 200]
    # The job document and the timeline tell the story: failed, re-queued, succeeded.
    events = ops.ledger.job_events(job_id)
    names = [(e["kind"], e["name"], e["status"]) for e in events]
    requeued = names.index(("state", "requeued", "QUEUED"))
    assert ("state", "status", "FAILED") in names[:requeued]
    # (the error email's event comes from another task and may land before or after this)
    states = [n for n in names if n[0] == "state"]
    assert states[-1] == ("state", "status", "SUCCEEDED")
    assert events[requeued]["detail"]["deadLetter"] == entry["id"]
    assert ops.ledger.get_dead_letter(entry["id"])["status"] == "REQUEUED"
    assert all(d["id"] != entry["id"] for d in ops.get(FAILED).get_json()["failed"])
    assert ops.get(f"{FAILED}/{entry['id']}").get_json()["resolvedAt"]


def test_requeue_twice_is_refused_and_runs_once(ops: Stack, sandbox_control: Any) -> None:
    job_id, entry = fail_enrollment_sync(ops, sandbox_control, down=False)  # a 400
    answers: list[int] = []

    def click() -> None:
        answers.append(ops.post(f"{FAILED}/{entry['id']}/requeue", as_client="ops").status_code)

    # Two operators click at the same moment, and then one clicks again.
    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    again = ops.post(f"{FAILED}/{entry['id']}/requeue", as_client="ops")
    assert sorted(answers) == [202, 409]
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    problem = again.get_json()
    assert problem["entryStatus"] == "REQUEUED" and "already" in problem["detail"]
    wait_job(ops, job_id, "SUCCEEDED")
    time.sleep(0.5)  # a second task, had one been sent, would have called DERMS by now
    assert [c["status"] for c in sandbox_control.calls(system="derms", op="enroll")] == [400, 200]
    assert [e["name"] for e in ops.ledger.job_events(job_id)].count("requeued") == 1


def test_discard_closes_the_entry_once_and_the_job_stays_failed(
        ops: Stack, sandbox_control: Any) -> None:
    job_id, entry = fail_enrollment_sync(ops, sandbox_control, down=False)
    wait_job(ops, job_id, "FAILED")
    response = ops.post(f"{FAILED}/{entry['id']}/discard", as_client="ops")
    assert response.status_code == 200 and response.get_json() == {"id": entry["id"],
                                                                    "status": "DISCARDED"}
    assert ops.ledger.get_dead_letter(entry["id"])["status"] == "DISCARDED"
    assert ops.post(f"{FAILED}/{entry['id']}/discard", as_client="ops").status_code == 409
    refused = ops.post(f"{FAILED}/{entry['id']}/requeue", as_client="ops")
    assert refused.status_code == 409 and refused.get_json()["entryStatus"] == "DISCARDED"
    assert ops.ledger.get_job(job_id)["status"] == "FAILED"
    assert len(sandbox_control.calls(system="derms", op="enroll")) == 1
    assert ("state", "discarded") in [(e["kind"], e["name"]) for e in ops.ledger.job_events(job_id)]
    assert all(d["id"] != entry["id"] for d in ops.get(FAILED).get_json()["failed"])
    discarded = ops.get(FAILED, query_string={"status": "discarded"}).get_json()["failed"]
    assert entry["id"] in [d["id"] for d in discarded]


def test_bulk_requeue_by_flow_and_time_range(ops: Stack, sandbox_control: Any) -> None:
    early, _ = fail_enrollment_sync(ops, sandbox_control, down=False)
    time.sleep(0.05)
    middle = dt.datetime.now(dt.UTC)
    late = [fail_enrollment_sync(ops, sandbox_control, down=False)[0] for _ in range(2)]
    time.sleep(0.05)
    end = dt.datetime.now(dt.UTC)
    newest, _ = fail_enrollment_sync(ops, sandbox_control, down=False)

    response = ops.post(f"{FAILED}/requeue", as_client="ops", json={
        "flow": "enrollment_sync", "since": middle.isoformat(), "until": end.isoformat()})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert sorted(r["jobId"] for r in body["requeued"]) == sorted(late)
    assert body["skipped"] == [] and body["failed"] == []
    for job_id in late:
        wait_job(ops, job_id, "SUCCEEDED")
    assert ops.ledger.get_job(early)["status"] == "FAILED"
    assert ops.ledger.get_job(newest)["status"] == "FAILED"

    # Another flow's entries are not touched by a bulk re-queue of this flow.
    other = ops.ledger.add_dead_letter(flow="some_other_flow", job_id=None, step="x.y",
                                       input={"args": [], "kwargs": {}}, error="e", attempts=1)
    rest = ops.post(f"{FAILED}/requeue", as_client="ops", json={"flow": "enrollment_sync"})
    requeued = {r["jobId"] for r in rest.get_json()["requeued"]}
    assert {early, newest} <= requeued and not requeued & set(late)
    wait_job(ops, early, "SUCCEEDED")
    wait_job(ops, newest, "SUCCEEDED")
    assert ops.ledger.get_dead_letter(other)["status"] == "OPEN"
    ops.ledger.resolve_dead_letter(other, "DISCARDED")


def test_bulk_requeue_needs_a_json_object(ops: Stack) -> None:
    empty = ops.client.post(f"{FAILED}/requeue", headers=support.basic("ops"))
    assert empty.status_code == 400  # an empty POST never re-queues everything
    unknown = ops.post(f"{FAILED}/requeue", as_client="ops", json={"flows": "x"})
    assert unknown.status_code == 400 and "flows" in unknown.get_json()["errors"]
    bad_time = ops.post(f"{FAILED}/requeue", as_client="ops", json={"since": "yesterday"})
    assert bad_time.status_code == 400 and "since" in bad_time.get_json()["errors"]


def test_filters_and_unknown_entries(ops: Stack, sandbox_control: Any) -> None:
    job_id, entry = fail_enrollment_sync(ops, sandbox_control, down=False)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).isoformat()
    assert ops.get(FAILED, query_string={"since": later}).get_json()["failed"] == []
    assert ops.get(FAILED, query_string={"flow": "no_such_flow"}).get_json()["failed"] == []
    newest_first = ops.get(FAILED).get_json()["failed"]
    assert newest_first[0]["id"] == entry["id"]
    stamps = [d["createdAt"] for d in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    assert ops.get(FAILED, query_string={"since": "nope"}).status_code == 400
    assert ops.get(FAILED, query_string={"status": "weird"}).status_code == 400
    for method, path in (("get", f"{FAILED}/nope"), ("post", f"{FAILED}/nope/requeue"),
                         ("post", f"{FAILED}/nope/discard")):
        response = getattr(ops.client, method)(path, headers=support.basic("ops"))
        assert response.status_code == 404 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("client", ["dacs", "derms"])
def test_only_the_ops_client_may_use_failed_work(ops: Stack, sandbox_control: Any,
                                                 client: str) -> None:
    entry = ops.ledger.add_dead_letter(flow="enrollment_sync", job_id=None,
                                       step="enrollment_sync.send",
                                       input={"args": [], "kwargs": {}}, error="e", attempts=1)
    calls = [("get", FAILED, None), ("get", f"{FAILED}/{entry}", None),
             ("post", f"{FAILED}/{entry}/requeue", None), ("post", f"{FAILED}/requeue", {}),
             ("post", f"{FAILED}/{entry}/discard", None)]
    for method, path, body in calls:
        anonymous = getattr(ops.client, method)(path, json=body)
        assert anonymous.status_code == 401, path
        assert "Basic" in anonymous.headers["WWW-Authenticate"]
        wrong = getattr(ops.client, method)(path, json=body, headers=support.basic(client))
        assert wrong.status_code == 403, path
        assert wrong.mimetype == "application/problem+json"
    bearer = ops.client.get(FAILED, headers={"Authorization": "Bearer ops-bearer-token-93ad"})
    assert bearer.status_code == 200
    assert ops.ledger.get_dead_letter(entry)["status"] == "OPEN"  # nothing happened to it
    ops.ledger.resolve_dead_letter(entry, "DISCARDED")


def test_a_broker_that_refuses_the_requeue_leaves_the_entry_open(
        ops: Stack, tmp_path: Path) -> None:
    from hub.ledger import JobStatus

    job_id = unique("broker-down")
    ops.ledger.create_job(job_id, "enrollment_sync", client="dacs")
    ops.ledger.set_job(job_id, status=JobStatus.FAILED, errors=[{"message": "x"}])
    entry = ops.ledger.add_dead_letter(flow="enrollment_sync", job_id=job_id,
                                       step="enrollment_sync.send",
                                       input={"args": [], "kwargs": {"job_id": job_id}},
                                       error="derms enroll HTTP 503", attempts=3)
    # The same ledger, but a broker nobody listens on.
    overrides = {**{k: v for k, v in ops.config.values.items() if v is not None},
                 "broker.url": f"redis://127.0.0.1:{support.free_port()}/0"}
    broken = Stack("broken", support.make_config(overrides), tmp_path / "x.conf", None).activate()
    try:
        response = broken.post(f"{FAILED}/{entry}/requeue", as_client="ops")
        assert response.status_code == 503, response.get_data(as_text=True)
        assert "still OPEN" in response.get_json()["detail"]
        assert ops.ledger.get_dead_letter(entry)["status"] == "OPEN"
        assert ops.ledger.get_job(job_id)["status"] == "FAILED"
        names = [e["name"] for e in ops.ledger.job_events(job_id)]
        assert names[-2:] == ["status", "requeue failed"]
    finally:
        ops.activate()
    ops.ledger.resolve_dead_letter(entry, "DISCARDED")


def test_requeue_on_each_broker(stack: Stack, sandbox_control: Any) -> None:
    """The suite's shared hubs: the embedded filesystem broker and Redis."""
    job_id, entry = fail_enrollment_sync(stack, sandbox_control, down=False)
    wait_job(stack, job_id, "FAILED")
    response = stack.post(f"{FAILED}/{entry['id']}/requeue", as_client="ops")
    assert response.status_code == 202, response.get_data(as_text=True)
    assert wait_job(stack, job_id, "SUCCEEDED")["result"]["body"] == {"externalId": f"S-{job_id}"}
    assert stack.post(f"{FAILED}/{entry['id']}/requeue", as_client="ops").status_code == 409
