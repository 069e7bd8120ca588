"""The ledger on SQLite and on PostgreSQL (CI runs both)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

import support
from hub.ledger import JobStatus, Ledger, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
        yield led
        led.engine.dispose()
    else:
        url = support.create_postgres_db()
        led = Ledger(url)
        yield led
        led.engine.dispose()
        support.drop_postgres_db(url)


def test_job_lifecycle_and_timeline(ledger: Ledger) -> None:
    ledger.create_job("J1", "enrollment_sync", client="dacs", message_id="S-1",
                      input={"message": {"a": 1}})
    job = ledger.get_job("J1")
    assert job and job["status"] == JobStatus.QUEUED and job["input"] == {"message": {"a": 1}}
    ledger.set_job("J1", status=JobStatus.SUCCEEDED, result={"status": 200})
    job = ledger.get_job("J1")
    assert job["status"] == JobStatus.SUCCEEDED and job["result"] == {"status": 200}
    assert [e["status"] for e in ledger.job_events("J1")] == ["QUEUED", "SUCCEEDED"]
    assert [j["id"] for j in ledger.list_jobs(flow="enrollment_sync")] == ["J1"]
    assert ledger.list_jobs(status=JobStatus.FAILED) == []


def test_idempotency_key_claimed_once_and_rebound_from_failed(ledger: Ledger) -> None:
    assert ledger.claim_key("f", "M-1", "J1") is None
    assert ledger.claim_key("f", "M-1", "J2") == "J1"
    assert ledger.claim_key("other-flow", "M-1", "J3") is None  # keys are per flow
    assert ledger.rebind_key("f", "M-1", "J1", "J4")
    assert not ledger.rebind_key("f", "M-1", "J1", "J5")  # only one replay wins the rebind
    assert ledger.claim_key("f", "M-1", "J6") == "J4"


def test_chunks_count_a_redelivered_segment_once(ledger: Ledger) -> None:
    ledger.create_job("J", "event_device_reservation")
    ledger.add_chunks("J", [{"rows": [0, 1000]}, {"rows": [1000, 1500]}])
    assert ledger.get_job("J")["total"] == 2
    assert ledger.finish_chunk("J", 0, "DONE")
    assert not ledger.finish_chunk("J", 0, "DONE")  # redelivery
    assert ledger.get_job("J")["done"] == 1
    assert ledger.finish_chunk("J", 1, "FAILED", "HTTP 500")
    assert ledger.get_job("J")["done"] == 2
    assert [c["seq"] for c in ledger.get_chunks("J", "FAILED")] == [1]
    ledger.reset_chunks("J", [1])
    assert ledger.get_job("J")["done"] == 2  # recomputed on the next finish
    assert ledger.get_chunks("J", "PENDING")[0]["seq"] == 1
    assert ledger.stale_chunks(utcnow() + dt.timedelta(seconds=1))[0]["seq"] == 1


def test_dead_letter_resolved_only_once(ledger: Ledger) -> None:
    entry = ledger.add_dead_letter(flow="f", job_id="J", step="f.send", input={"kwargs": {}},
                                   error="DERMS HTTP 500", attempts=3)
    assert ledger.get_dead_letter(entry)["status"] == "OPEN"
    assert [d["id"] for d in ledger.list_dead_letters(flow="f")] == [entry]
    assert ledger.resolve_dead_letter(entry, "REQUEUED")
    assert not ledger.resolve_dead_letter(entry, "REQUEUED")  # a second click is refused
    assert ledger.list_dead_letters() == []


def test_file_claims_and_leases(ledger: Ledger) -> None:
    lease = dt.timedelta(seconds=60)
    assert ledger.claim_file("sftp://h/dir", "DeviceScore1.csv", "w1", lease)
    assert not ledger.claim_file("sftp://h/dir", "DeviceScore1.csv", "w2", lease)
    assert ledger.renew_claim("sftp://h/dir", "DeviceScore1.csv", "w1", lease)
    assert not ledger.renew_claim("sftp://h/dir", "DeviceScore1.csv", "w2", lease)
    # an expired claim may be taken over, a finished one may not
    assert ledger.claim_file("s", "a", "w1", dt.timedelta(seconds=-1))
    assert ledger.claim_file("s", "a", "w2", lease)
    ledger.finish_claim("s", "a", "w2", "SENT")
    assert not ledger.claim_file("s", "a", "w3", dt.timedelta(seconds=-1))



def _create_schema_at(url: str, start: float) -> str:
    import time

    time.sleep(max(0.0, start - time.time()))
    try:
        Ledger(url).engine.dispose()
        return "ok"
    except Exception as exc:  # reported back to the parent, which names it in the failure
        return f"{type(exc).__name__}: {exc}"[:300]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_together_all_create_the_schema(kind: str, tmp_path: Path) -> None:
    """The door, the workers and Beat start at once on a new database: none may fail.

    Before the schema lock this failed in about one round in eight ("table ... already
    exists"): both processes saw a table missing and both created it.
    """
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        for round_ in range(16):
            if kind == "sqlite":
                url = f"sqlite:///{tmp_path / f'ledger-{round_}.sqlite'}"
            else:
                url = support.create_postgres_db()
            try:
                # the children have imported the hub already after round 0; stagger their
                # starts by 0-8 ms so that some overlap the others' CREATEs
                start = time.time() + 0.5
                outcomes = pool.starmap(_create_schema_at, [
                    (url, start + i * 0.002 * (round_ % 5)) for i in range(6)])
                assert outcomes == ["ok"] * 6, f"round {round_}"
                led = Ledger(url, create=False)
                led.create_job("J", "enrollment_sync")  # the tables are there
                led.engine.dispose()
            finally:
                if kind == "postgresql":
                    support.drop_postgres_db(url)
