"""Housekeeping: the segment reconciler and the pruning of old staged files and ledger rows.

Both run from Beat (``beat_schedule.py``): ``housekeeping.reconcile`` every minute, and
``housekeeping.prune`` once a day. The reconciler also runs when a worker starts, so work a
crash left behind is picked up without waiting for Beat.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery.signals import worker_ready

from hub import runtime
from hub.ledger import JobStatus, utcnow
from hub.staging import delete_quietly, open_staging
from tasks import file_segments
from tasks.app import celery_app
from tasks.base import HubTask

FLOW = "housekeeping"

log = logging.getLogger(__name__)


@celery_app.task(bind=True, base=HubTask, name="housekeeping.reconcile", flow=FLOW,
                 completes_job=False, owns_job=False, notify_errors=False)
def reconcile(self: HubTask, job_id: str | None = None) -> dict[str, int]:
    """Re-enqueue file segments left PENDING past ``dacs.file.segment.deadline.seconds``; run
    the finish of file jobs whose segments all ended but whose ack never went out."""
    return file_segments.reconcile()


@celery_app.task(bind=True, base=HubTask, name="housekeeping.prune", flow=FLOW,
                 completes_job=False, owns_job=False)
def prune(self: HubTask, job_id: str | None = None) -> dict[str, Any]:
    """Delete staged files older than ``staging.retention.days`` (unless their job still runs or
    has an OPEN dead letter) and ledger rows older than ``ledger.retention.days`` (see
    :meth:`hub.ledger.Ledger.prune`)."""
    return prune_now()


def prune_now(now: dt.datetime | None = None) -> dict[str, Any]:
    """The work of ``housekeeping.prune``, callable without a broker."""
    config = runtime.get().config
    ledger = runtime.get().ledger
    now = now or utcnow()
    staged_before = (now - dt.timedelta(days=config["staging.retention.days"])).timestamp()
    keep = _staged_keys_in_use(ledger)
    deleted = 0
    staging = open_staging(config)
    try:
        for entry in staging.list():
            if entry.mtime < staged_before and entry.name not in keep:
                deleted += delete_quietly(staging, entry.name)
    finally:
        staging.close()
    rows = ledger.prune(now - dt.timedelta(days=config["ledger.retention.days"]))
    result = {"stagedFilesDeleted": deleted, **rows}
    log.info("pruned", extra=result)
    return result


def _staged_keys_in_use(ledger: Any) -> set[str]:
    """Staged files that must stay whatever their age: those of jobs still queued or running
    (any flow that stages a file: the file flows and the transfers), and those of FAILED jobs with
    an OPEN dead letter, so a re-queue can still read its file."""
    jobs = [job for status in (JobStatus.QUEUED, JobStatus.RUNNING)
            for job in ledger.list_jobs(status=status, limit=100_000)]
    waiting = {entry["job_id"] for entry in ledger.list_dead_letters(status="OPEN", limit=100_000)
               if entry["job_id"]}
    jobs += [job for job_id in waiting
             if (job := ledger.get_job(job_id)) is not None and job["status"] == JobStatus.FAILED]
    keys = set()
    for job in jobs:
        file = (job.get("input") or {}).get("file")
        if isinstance(file, dict) and file.get("key"):
            keys.add(file["key"])
    return keys


@worker_ready.connect
def _reconcile_at_start(sender: Any = None, **_: Any) -> None:
    # A worker that starts after a crash picks up what the crash left, without waiting for Beat.
    reconcile.apply_async()
