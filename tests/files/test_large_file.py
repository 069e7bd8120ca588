"""A large reservation file (200,000 rows, ~60 MB) end to end, with the worker's memory measured.

The bound is read from the kernel (VmHWM, the peak resident set of each pool process of a fresh
worker), before and after the big file: it must not grow with the file. A worker that held the
file, or its rows, would grow by far more than the file's size.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from files.conftest import peak_rss_kb, worker_children
from files.filetools import (
    RESERVATIONS,
    accepted,
    reservation,
    stage_message,
    upload,
    wait_acks,
    wait_job,
    write_reservation_csv,
)

ROWS = 200_000
#: every row carries an extra, ignored column of this many bytes: ~60 MB in all
PAD = 250
#: allowed growth of a pool process's peak RSS from the warm-up to the big file
BOUND_KB = 20 * 1024

COLUMNS = ("recordId", "note", "nicId", "headEndSystem", "servicePointId", "deviceType")


def post_file(stack: Any, path: Path) -> tuple[str, dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    message = stage_message(eventId=f"EV-{tag}", stageId=f"EV-{tag}-S1")
    with path.open("rb") as handle:
        job_id = accepted(upload(stack, RESERVATIONS, message, handle, filename=path.name))
    return job_id, message


@pytest.mark.slow
def test_200k_rows_with_flat_worker_memory(own_stack: Any, sandbox_control: Any,
                                          tmp_path: Path) -> None:
    stack = own_stack("redis", concurrency=2)
    warm = write_reservation_csv(tmp_path / "warm.csv", 5_000, COLUMNS, pad=PAD)
    job_id, _ = post_file(stack, warm)
    assert wait_job(stack, job_id, timeout=60)["status"] == "SUCCEEDED"
    children = worker_children(stack.worker)
    assert len(children) == 2
    before = {pid: peak_rss_kb(pid) for pid in children}

    big = write_reservation_csv(tmp_path / "big.csv", ROWS, COLUMNS, pad=PAD)
    size_kb = big.stat().st_size // 1024
    assert size_kb > 2.5 * BOUND_KB  # holding the file would break the bound
    sandbox_control.reset()
    started = time.monotonic()
    job_id, message = post_file(stack, big)
    job = wait_job(stack, job_id, timeout=240)
    elapsed = time.monotonic() - started
    assert job["status"] == "SUCCEEDED", job
    assert job["progress"] == {"done": 200, "total": 200}
    assert job["result"]["rows"] == ROWS

    assert worker_children(stack.worker) == children  # the same processes did the work
    after = {pid: peak_rss_kb(pid) for pid in children}
    growth = {pid: after[pid] - before[pid] for pid in children}
    print(f"\n{ROWS} rows, {size_kb} kB, {elapsed:.1f} s; peak RSS kB before {before}, "
          f"after {after}")
    assert max(growth.values()) < BOUND_KB, growth

    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    assert stored["count"] == ROWS and stored["unique"] == ROWS and stored["calls"] == 200
    assert wait_acks(sandbox_control, "event_reservation_ack")[0]["ackType"] == "SUCCESS"
