"""housekeeping.prune: old staged files and old ledger rows go; running work and open dead
letters stay. Run against the door's real ledger and staging folder (no broker needed)."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from pathlib import Path
from typing import Any

from hub.ledger import utcnow
from hub.staging import open_staging
from tasks.housekeeping import prune_now


def stage(door: Any, key: str, age_days: float) -> Path:
    staging = open_staging(door.config)
    staging.put(key, io.BytesIO(b"recordId,nicId,headEndSystem\n"))
    path = Path(door.config.staging_url) / key
    then = time.time() - age_days * 86400
    os.utime(path, (then, then))
    return path


def test_prune_deletes_old_staged_files_and_ledger_rows_but_keeps_running_work(door: Any) -> None:
    ledger = door.ledger
    running = stage(door, "running.csv", 10)
    finished = stage(door, "finished.csv", 10)
    orphan = stage(door, "orphan.csv", 10)
    fresh = stage(door, "fresh.csv", 1)
    ledger.create_job("J-run", "event_device_reservation",
                      input={"message": {}, "file": {"key": "running.csv"}})
    ledger.set_job("J-run", status="RUNNING")
    ledger.create_job("J-old", "event_device_reservation",
                      input={"message": {}, "file": {"key": "finished.csv"}})
    ledger.add_chunks("J-old", [{"segment": {}}])
    ledger.set_job("J-old", status="SUCCEEDED")
    ledger.claim_key("event_device_reservation", "M-old", "J-old")
    ledger.create_job("J-new", "event_device_outcome")
    ledger.set_job("J-new", status="FAILED")
    dead = ledger.add_dead_letter(flow="f", job_id="J-old", step="s", input={}, error="e",
                                  attempts=1)
    resolved = ledger.add_dead_letter(flow="f", job_id="J-old", step="s", input={}, error="e",
                                      attempts=1)
    ledger.resolve_dead_letter(resolved, "DISCARDED")

    # 40 days on, the finished job is past ledger.retention.days (30)
    later = utcnow() + dt.timedelta(days=40)
    result = prune_now(now=utcnow())
    assert result["stagedFilesDeleted"] == 2
    assert running.exists() and fresh.exists()
    assert not finished.exists() and not orphan.exists()
    assert ledger.get_job("J-old") is not None  # rows are younger than 30 days

    result = prune_now(now=later)
    assert result["jobs"] == 2 and result["chunks"] == 1 and result["deadLetters"] == 1
    assert ledger.get_job("J-old") is None and ledger.get_job("J-new") is None
    assert ledger.get_job("J-run") is not None and ledger.get_chunks("J-old") == []
    assert ledger.job_events("J-old") == []
    assert ledger.get_dead_letter(dead) is not None  # open: waits for ops, whatever its age
    assert ledger.get_dead_letter(resolved) is None
    assert ledger.claim_key("event_device_reservation", "M-old", "J-again") is None
    assert running.exists()  # its job still runs


def test_prune_keeps_the_file_of_a_queued_transfer_and_of_a_job_with_an_open_dead_letter(
        door: Any) -> None:
    ledger = door.ledger
    queued_transfer = stage(door, "transfer", 10)
    failed_segment = stage(door, "failed.csv", 10)
    given_up = stage(door, "given-up.csv", 10)
    ledger.create_job("J-transfer", "sp_network_location",
                      input={"message": {}, "file": {"key": "transfer"}})
    ledger.create_job("J-failed", "event_device_outcome",
                      input={"message": {}, "file": {"key": "failed.csv"}})
    ledger.set_job("J-failed", status="FAILED")
    ledger.add_dead_letter(flow="event_device_outcome", job_id="J-failed",
                           step="event_device_outcome.segment", input={}, error="e", attempts=3)
    ledger.create_job("J-given-up", "event_device_outcome",
                      input={"message": {}, "file": {"key": "given-up.csv"}})
    ledger.set_job("J-given-up", status="FAILED")
    discarded = ledger.add_dead_letter(flow="event_device_outcome", job_id="J-given-up",
                                       step="event_device_outcome.segment", input={}, error="e",
                                       attempts=3)
    ledger.resolve_dead_letter(discarded, "DISCARDED")

    assert prune_now(now=utcnow())["stagedFilesDeleted"] == 1
    assert queued_transfer.exists()  # its job has not run yet
    assert failed_segment.exists()  # ops may still re-queue the segment
    assert not given_up.exists()  # discarded: nothing will read it again
