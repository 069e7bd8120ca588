"""Failed work: list, re-queue and discard dead letters. Used by the HTTP API, the CLI and /ops.

A dead letter is written by :class:`tasks.base.HubTask` when a step's retries are spent: the flow,
the job, the step (its registered task name) and the step's input ``{"args", "kwargs"}``, which is
a reference (a message, or a staged file and a segment number), never a secret.

Re-queueing runs that step again from that input (``send_task(step, args, kwargs)``), safely:

1. the entry moves OPEN -> REQUEUED in one conditional update, so a second click, a second
   operator or a second command finds it taken (:class:`AlreadyResolved`, HTTP 409);
2. a failed segment (its kwargs carry ``seq`` and its job has chunks) is reset to PENDING, so the
   file flow posts it again and counts it when it ends;
3. a job the step owns goes back to QUEUED, and its timeline gets a ``requeued`` event;
4. then the task is sent. If the broker refuses it, all of the above is undone (the entry is OPEN
   again, the job and segment back as they were) and :class:`EnqueueFailed` is raised.

When the re-run step succeeds, the job finishes as if it had not failed: a single-step flow's
task sets the job SUCCEEDED (HubTask); a file flow's last re-queued segment finishes the job. If
it fails again, HubTask writes a new dead letter.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from kombu.exceptions import OperationalError

from hub import metrics
from hub.ledger import JobStatus, Ledger, iso

__all__ = ["DeadLetterNotFound", "AlreadyResolved", "EnqueueFailed", "Requeued", "BulkResult",
           "requeue", "requeue_many", "discard", "dead_letter_document"]

log = logging.getLogger(__name__)

OPEN, REQUEUED, DISCARDED = "OPEN", "REQUEUED", "DISCARDED"
#: most entries one bulk re-queue takes; the rest wait for the next one
BULK_LIMIT = 10_000


class DeadLetterNotFound(LookupError):
    """No dead letter has this id."""


class AlreadyResolved(Exception):
    """The entry is no longer OPEN: someone re-queued or discarded it first."""

    def __init__(self, entry_id: str, status: str):
        super().__init__(f"failed entry {entry_id} is already {status}")
        self.entry_id, self.status = entry_id, status


class EnqueueFailed(Exception):
    """The broker did not take the re-queued task; the entry is OPEN again."""


@dataclass(frozen=True)
class Requeued:
    """One re-queued entry: what was sent, for which job."""

    id: str
    flow: str
    job_id: str | None
    step: str
    task_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "flow": self.flow, "jobId": self.job_id, "step": self.step,
                "taskId": self.task_id, "status": REQUEUED}


@dataclass
class BulkResult:
    """What a bulk re-queue did: re-queued, skipped (taken meanwhile), and failed to enqueue."""

    requeued: list[Requeued] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"requeued": [r.as_dict() for r in self.requeued], "skipped": self.skipped,
                "failed": self.failed}


def dead_letter_document(entry: dict[str, Any], *, with_input: bool = False) -> dict[str, Any]:
    """The API's (and ``hub failed list --json``'s) shape of one entry."""
    document = {"id": entry["id"], "flow": entry["flow"], "jobId": entry["job_id"],
                "step": entry["step"], "error": entry["error"], "attempts": entry["attempts"],
                "status": entry["status"], "createdAt": iso(entry["created_at"]),
                "resolvedAt": iso(entry["resolved_at"])}
    if with_input:
        document["input"] = entry["input"]
    return document


def _task_owns_job(step: str) -> bool:
    """Whether the step's task moves its job's status (HubTask.owns_job); unknown tasks do."""
    from tasks.app import celery_app

    task = celery_app.tasks.get(step)
    return bool(getattr(task, "owns_job", True))


def _segment(ledger: Ledger, job_id: str | None, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The chunk row a failed segment step was posting, if this entry is one."""
    seq = kwargs.get("seq")
    if job_id is None or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    for chunk in ledger.get_chunks(job_id):
        if chunk["seq"] == seq:
            return chunk
    return None


def _resolve(ledger: Ledger, entry_id: str, status: str) -> dict[str, Any]:
    """Move an OPEN entry to ``status``, once; the entry as it was."""
    entry = ledger.get_dead_letter(entry_id)
    if entry is None:
        raise DeadLetterNotFound(entry_id)
    if not ledger.resolve_dead_letter(entry_id, status):
        current = ledger.get_dead_letter(entry_id)
        raise AlreadyResolved(entry_id, current["status"] if current else "gone")
    return entry


def requeue(ledger: Ledger, entry_id: str, *, by: str = "ops") -> Requeued:
    """Run a dead letter's step again from its stored input. See the module docstring."""
    from tasks.app import celery_app

    entry = _resolve(ledger, entry_id, REQUEUED)
    stored = entry["input"] or {}
    args = list(stored.get("args") or [])
    kwargs = dict(stored.get("kwargs") or {})
    job_id = entry["job_id"]
    job = ledger.get_job(job_id) if job_id else None
    owns = job is not None and _task_owns_job(entry["step"])
    chunk = _segment(ledger, job_id, kwargs) if job is not None else None
    detail = {"deadLetter": entry_id, "step": entry["step"], "by": by}
    if chunk is not None:
        ledger.reset_chunks(job_id, [chunk["seq"]])  # type: ignore[arg-type]
        detail["segment"] = chunk["seq"]
    if job is not None:
        if owns:
            ledger.set_job(job_id, status=JobStatus.QUEUED)  # type: ignore[arg-type]
        ledger.add_event(job_id, "state", "requeued",  # type: ignore[arg-type]
                         JobStatus.QUEUED if owns else None, detail)
    # An id that names the job, so the re-run is easy to find in Flower.
    task_id = f"{job_id}.rq-{uuid.uuid4().hex[:8]}" if job_id else str(uuid.uuid4())
    try:
        celery_app.send_task(entry["step"], args=args, kwargs=kwargs, task_id=task_id)
    except Exception as exc:
        # Undo, whatever went wrong, so the entry can be re-queued again later; then let it show.
        _undo(ledger, entry, job, chunk, owns, exc)
        if isinstance(exc, (OperationalError, OSError)):
            raise EnqueueFailed(f"the broker did not take the task: {exc}") from exc
        raise
    metrics.REQUEUES.labels(flow=entry["flow"]).inc()
    log.info("dead letter re-queued", extra={"deadLetter": entry_id, "step": entry["step"],
                                            "job": job_id, "taskId": task_id, "by": by})
    return Requeued(entry_id, entry["flow"], job_id, entry["step"], task_id)


def _undo(ledger: Ledger, entry: dict[str, Any], job: dict[str, Any] | None,
          chunk: dict[str, Any] | None, owns: bool, exc: BaseException) -> None:
    ledger.reopen_dead_letter(entry["id"])
    if job is None:
        return
    if chunk is not None and chunk["status"] != "PENDING":
        ledger.finish_chunk(job["id"], chunk["seq"], chunk["status"], chunk["error"])
    if owns:
        ledger.set_job(job["id"], status=job["status"])
    ledger.add_event(job["id"], "state", "requeue failed", job["status"] if owns else None,
                     {"deadLetter": entry["id"], "message": f"{type(exc).__name__}: {exc}"[:300]})


def requeue_many(ledger: Ledger, *, flow: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, by: str = "ops") -> BulkResult:
    """Re-queue every OPEN entry of ``flow`` (all flows if None) created in [since, until].

    Oldest first. The set is taken once at the start, so entries written by re-queued work that
    fails again are not taken in the same run. Stops at the first entry the broker refuses (the
    rest would fail too); those not tried stay OPEN.
    """
    result = BulkResult()
    entries = ledger.list_dead_letters(flow=flow, since=since, until=until, status=OPEN,
                                       limit=BULK_LIMIT)
    for entry in reversed(entries):
        try:
            result.requeued.append(requeue(ledger, entry["id"], by=by))
        except AlreadyResolved:
            result.skipped.append(entry["id"])
        except EnqueueFailed as exc:
            result.failed.append({"id": entry["id"], "error": str(exc)})
            break
    return result


def discard(ledger: Ledger, entry_id: str, *, by: str = "ops") -> None:
    """Give up on a dead letter: OPEN -> DISCARDED, once. The job keeps its FAILED status."""
    entry = _resolve(ledger, entry_id, DISCARDED)
    if entry["job_id"] and ledger.job_exists(entry["job_id"]):
        ledger.add_event(entry["job_id"], "state", "discarded", None,
                         {"deadLetter": entry_id, "step": entry["step"], "by": by})
    log.info("dead letter discarded", extra={"deadLetter": entry_id, "step": entry["step"],
                                             "job": entry["job_id"], "by": by})
