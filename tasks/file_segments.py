"""The machinery both file flows share: health check, segments as a chord, one ack, recovery.

A file job runs in three kinds of steps, each a task named after its flow
(``<flow>.start``, ``<flow>.segment``, ``<flow>.finish``):

``start``
    Calls the DACS health check, then reads the staged file once as a stream and cuts it into
    segments of ``dacs.file.segment.size`` rows. Each segment becomes a ledger chunk whose
    ``ref`` is a staged-file key and a byte range (never rows). Then it sends the segments as a
    Celery chord whose body is ``finish``. Any failure of this step (health check down after
    its retries, an unreadable file) is a FAILURE ack with nothing posted.
``segment`` (a chord header task)
    Reads its byte range, maps the rows, posts them to DACS (the flow decides how many calls),
    and records the chunk DONE or FAILED. It never raises into the chord: transient errors are
    retried, then the chunk is FAILED with the error, a dead letter keeps the segment's input
    (``{args, kwargs}``) so ops can re-queue it alone, and a small status is returned. A chunk
    already DONE (a redelivery) is not posted again.
``finish`` (the chord body)
    Sends DERMS exactly one ack for the outcome the ledger shows (SUCCESS when every chunk is
    DONE), sets the job SUCCEEDED or FAILED with a summary, and sends the process-complete
    email and, when something failed, one error email.

The ledger, not the broker, is the source of truth. A segment run outside a chord (a re-queue
from the dead letters, or a re-send by the reconciler) checks after it ends whether no chunk is
pending any more, and if so enqueues ``finish`` itself: that is how a job whose failed segment
was re-queued becomes SUCCEEDED with a SUCCESS ack. ``finish`` claims its ack in the ledger
before sending it, so two finishers never both ack. :func:`reconcile` (Beat, every minute, and
at worker start) re-enqueues segments left PENDING past ``dacs.file.segment.deadline.seconds``
and runs ``finish`` for jobs whose chunks are all in but whose ack never went out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from celery import Task, chord
from celery.exceptions import BackendError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub import runtime
from hub.clients import TransientError
from hub.ledger import JobStatus, iso, utcnow
from hub.staging import open_staging
from hub.transports.base import TransientTransportError
from mappings.base import now_iso
from mappings.csvfiles import Row, RowError, read_segment, scan
from tasks.app import celery_app
from tasks.base import HubTask, call, failure_report

__all__ = [
    "FileFlow",
    "FILE_FLOWS",
    "register",
    "define_tasks",
    "StartTask",
    "SegmentTask",
    "FinishTask",
    "start",
    "run_segment",
    "finish",
    "reconcile",
]

log = logging.getLogger(__name__)

#: Row errors kept per segment in the ledger (the count is always exact).
MAX_ROW_ERRORS_PER_SEGMENT = 20
#: Responses in one ack; the rest are summed up in a last response.
MAX_ACK_RESPONSES = 100
#: what a result backend raises when it cannot store (SQLite busy, Redis gone)
_BACKEND_ERRORS = (OSError, SQLAlchemyError, BackendError, redis.exceptions.RedisError)
#: chord_unlock (database result backends) polls once a second; past a day the reconciler,
#: not the poll, finishes the job.
CHORD_UNLOCK_MAX_RETRIES = 24 * 3600


@dataclass(frozen=True)
class FileFlow:
    """What differs between the file flows; everything else lives here."""

    name: str
    #: the CSV columns the segments read (required ones and optional ones)
    columns: tuple[str, ...]
    #: the DACS operation each segment calls, and the DERMS ack operation
    dacs_op: str
    ack_op: str
    #: small per-job values every segment needs, taken from the message (the machinery adds
    #: ``drmsInstanceId``, which picks the DACS by the _Routing lookup)
    context: Callable[[dict[str, Any]], dict[str, Any]]
    #: how acks and emails name the file's subject (a stage id, a file name)
    subject: Callable[[dict[str, Any]], str]
    #: one CSV row -> one item of a DACS call; raises RowError for an unusable row
    map_row: Callable[[Row], dict[str, Any]]
    #: a segment's items -> its DACS call bodies, each with a label (the event id)
    bodies: Callable[[dict[str, Any], list[dict[str, Any]]], Iterator[tuple[str, dict[str, Any]]]]
    #: the DERMS ack body for (message, ackType, responses)
    ack: Callable[[dict[str, Any], str, list[dict[str, Any]]], dict[str, Any]]

    @property
    def start_task(self) -> str:
        return f"{self.name}.start"

    @property
    def segment_task(self) -> str:
        return f"{self.name}.segment"

    @property
    def finish_task(self) -> str:
        return f"{self.name}.finish"


FILE_FLOWS: dict[str, FileFlow] = {}


def register(spec: FileFlow) -> FileFlow:
    FILE_FLOWS[spec.name] = spec
    return spec


# -- task classes ---------------------------------------------------------------------------
class StartTask(HubTask):
    """The first step. Every failure of it ends in a FAILURE ack (its fallback enqueues it)."""

    completes_job = False
    # The job turns FAILED in ``finish``, together with the FAILURE ack it reports, never
    # before: a job seen FAILED always has its ack in its result.
    owns_job = False
    # This task's id is the job id: its result slot shows the job's progress (PROGRESS with
    # done/total from the segments, then the final summary from ``finish``). Storing this
    # step's own return there would freeze it: a backend never overwrites a SUCCESS.
    ignore_result = True
    retry_on = (TransientError, TransientTransportError)
    # Whatever stops this step (DACS down, an unreadable file), DERMS must get its FAILURE ack,
    # so every error is a recorded failure with a fallback answer, not only DownstreamError.
    fail_on = (Exception,)

    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> Any:
        spec = FILE_FLOWS[self.flow]
        report = {**failure_report(exc), "step": self.name}
        celery_app.send_task(spec.finish_task,
                             kwargs={"job_id": kwargs["job_id"], "failure": report})
        return {"status": "FAILED", "error": report["message"]}


class SegmentTask(HubTask):
    """A chord header task: never raises into the chord, records its chunk either way."""

    completes_job = False
    owns_job = False
    notify_errors = False  # the chord body sends one error email for the whole file
    retry_on = (TransientError, TransientTransportError)
    # A header task that raised would stop the chord body, and with it the ack: every error is
    # recorded (chunk FAILED, dead letter with the segment's input) and answered as a status.
    fail_on = (Exception,)

    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> Any:
        spec = FILE_FLOWS[self.flow]
        job_id, seq, segment = kwargs["job_id"], kwargs["seq"], kwargs["segment"]
        report = failure_report(exc)
        row_errors = getattr(self.request, "hub_row_errors", None) or []
        error = _chunk_error(segment, row_errors, call=report)
        ledger = runtime.get().ledger
        ledger.finish_chunk(job_id, seq, "FAILED", json.dumps(error))
        _progress(self, job_id)
        if not self.request.chord:
            maybe_finish(spec, job_id)
        return {"seq": seq, "status": "FAILED", "error": error["message"]}


class FinishTask(HubTask):
    """The chord body. Retries a DERMS outage; if the ack cannot be delivered, the job FAILED."""

    completes_job = False
    owns_job = False  # it sets the job's final status itself, after the ack

    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> Any:
        runtime.get().ledger.set_job(kwargs["job_id"], status=JobStatus.FAILED,
                                     errors=[{**failure_report(exc), "step": self.name}])
        return None  # re-raise: Flower shows the step failed; the dead letter can re-run it


def define_tasks(spec: FileFlow) -> tuple[Task, Task, Task]:
    """Register a file flow's three tasks under its names (``<flow>.start``, ``.segment``,
    ``.finish``) and return them, for the flow's module to hold."""

    @celery_app.task(bind=True, base=StartTask, name=spec.start_task, flow=spec.name)
    def start_task(self: StartTask, message: dict[str, Any], staged: dict[str, Any],
                   job_id: str) -> dict[str, Any]:
        """Health check, cut the staged file into segments, send them as a chord."""
        return start(spec, self, message=message, staged=staged, job_id=job_id)

    @celery_app.task(bind=True, base=SegmentTask, name=spec.segment_task, flow=spec.name)
    def segment_task(self: SegmentTask, seq: int, segment: dict[str, Any],
                     context: dict[str, Any], job_id: str) -> dict[str, Any]:
        """Post one segment's rows to DACS (``spec.dacs_op``), unless already done."""
        return run_segment(spec, self, job_id=job_id, seq=seq, segment=segment, context=context)

    @celery_app.task(bind=True, base=FinishTask, name=spec.finish_task, flow=spec.name)
    def finish_task(self: FinishTask, job_id: str, failure: dict[str, Any] | None = None,
                    takeover: bool = False) -> dict[str, Any]:
        """The one ack to DERMS (``spec.ack_op``), the job's end, the emails."""
        return finish(spec, self, job_id=job_id, failure=failure, takeover=takeover)

    return start_task, segment_task, finish_task


# -- start ----------------------------------------------------------------------------------
def start(spec: FileFlow, task: HubTask, *, message: dict[str, Any], staged: dict[str, Any],
          job_id: str) -> dict[str, Any]:
    """Health check, scan, record the segments, send the chord."""
    ledger = runtime.get().ledger
    config = runtime.get().config
    ledger.set_job(job_id, status=JobStatus.RUNNING)
    instance = message.get("drmsInstanceId")  # picks the DACS serving it (_Routing lookup)
    call("dacs", "health_check", method="GET", instance=instance)
    if sum(ledger.chunk_counts(job_id).values()):
        # A redelivered or re-sent start: the segments exist and were sent once. Lost ones
        # are the reconciler's business; sending them all again would double the posts.
        log.info("segments already recorded; not sent again", extra={"job": job_id})
        return {"status": "ALREADY_STARTED"}
    staging = open_staging(config)
    try:
        with staging.open(staged["key"]) as stream:
            # A long scan touches the job now and then, so the reconciler does not take a
            # start that is busy reading a huge file for a lost one.
            found = scan(stream, config["dacs.file.segment.size"],
                         on_progress=lambda rows: ledger.set_job(job_id))
    finally:
        staging.close()
    ctx = {**spec.context(message), "drmsInstanceId": instance}
    refs = [{"segment": {"key": staged["key"], **seg.as_dict(), "columns": found.columns},
             "context": ctx} for seg in found.segments]
    try:
        ledger.add_chunks(job_id, refs)
    except IntegrityError:
        log.info("another start recorded the segments first", extra={"job": job_id})
        return {"status": "ALREADY_STARTED"}
    ledger.add_event(job_id, "step", task.name, "SCANNED",
                     {"rows": found.rows, "segments": len(refs)})
    if not refs:
        celery_app.send_task(spec.finish_task, kwargs={"job_id": job_id})
        return {"status": "EMPTY", "rows": 0, "segments": 0}
    header = [celery_app.signature(spec.segment_task, kwargs={**ref, "seq": seq, "job_id": job_id},
                                   immutable=True)
              for seq, ref in enumerate(refs)]
    body = celery_app.signature(spec.finish_task, kwargs={"job_id": job_id}, immutable=True)
    chord(header, body).apply_async(max_retries=CHORD_UNLOCK_MAX_RETRIES)
    return {"status": "STARTED", "rows": found.rows, "segments": len(refs)}


# -- segments -------------------------------------------------------------------------------
def run_segment(spec: FileFlow, task: HubTask, *, job_id: str, seq: int,
                segment: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Post one segment, unless the ledger says it is already done."""
    ledger = runtime.get().ledger
    standalone = not task.request.chord
    chunk = ledger.get_chunk(job_id, seq)
    if chunk is None:
        log.warning("segment of an unknown job (pruned?); nothing to do",
                    extra={"job": job_id, "seq": seq})
        return {"seq": seq, "status": "UNKNOWN"}
    if chunk["status"] == "DONE":
        log.info("segment already done (a redelivery): not posted again",
                 extra={"job": job_id, "seq": seq})
        if standalone:
            maybe_finish(spec, job_id)
        return {"seq": seq, "status": "DONE", "redelivered": True}
    ledger.touch_chunk(job_id, seq)  # the reconciler sees this segment is being worked on
    items: list[dict[str, Any]] = []
    row_errors: list[dict[str, Any]] = []
    staging = open_staging(runtime.get().config)
    try:
        with staging.open_range(segment["key"], segment["start"], segment["end"]) as stream:
            for row in read_segment(stream, segment, segment["columns"], spec.columns):
                try:
                    items.append(spec.map_row(row))
                except RowError as exc:
                    row_errors.append(exc.as_dict())
    finally:
        staging.close()
    task.request.hub_row_errors = row_errors  # for the fallback, if a call fails below
    for _label, body in spec.bodies(context, items):
        call("dacs", spec.dacs_op, json=body, instance=context.get("drmsInstanceId"))
    status = "FAILED" if row_errors else "DONE"
    error = json.dumps(_chunk_error(segment, row_errors)) if row_errors else None
    if not ledger.finish_chunk(job_id, seq, status, error):
        log.info("segment had already ended this way; counted once",
                 extra={"job": job_id, "seq": seq})
    _progress(task, job_id)
    if standalone:
        maybe_finish(spec, job_id)
    return {"seq": seq, "status": status, "rows": segment["rows"], "posted": len(items),
            "rowErrors": len(row_errors)}


def _chunk_error(segment: dict[str, Any], row_errors: list[dict[str, Any]],
                 call: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the ledger keeps about a failed chunk (JSON in ``chunks.error``): a readable
    ``message`` first, then the details the ack is built from."""
    first, last = segment["row"], segment["row"] + segment["rows"] - 1
    parts = []
    if call is not None:
        parts.append(f"rows {first}-{last}: {_describe(call)}")
    if row_errors:
        shown = "; ".join(f"row {e['row']}: {e['message']}" for e in row_errors[:3])
        more = f" (+{len(row_errors) - 3} more)" if len(row_errors) > 3 else ""
        parts.append(f"{len(row_errors)} row(s) refused: {shown}{more}")
    return {"message": "; ".join(parts), "rows": [first, last], "call": call,
            "rowErrors": row_errors[:MAX_ROW_ERRORS_PER_SEGMENT],
            "rowErrorCount": len(row_errors)}


def _describe(report: dict[str, Any]) -> str:
    target = f"{(report.get('target') or '').upper()} {report.get('op') or ''}".strip()
    status = f"HTTP {report['status']}: " if report.get("status") else ""
    return f"{target + ' ' if target else ''}{status}{report.get('message') or 'failed'}"


def _progress(task: HubTask, job_id: str) -> None:
    """Job progress as the state of the job's root task (its id is the job id), for Flower and
    anyone holding the AsyncResult; the ledger row is what GET /api/v1/jobs/{id} shows."""
    job = runtime.get().ledger.get_job(job_id)
    if job is not None:
        _root_state(task, job_id, {"done": job["done"], "total": job["total"]}, "PROGRESS")


def _root_state(task: HubTask, job_id: str, meta: dict[str, Any], state: str) -> None:
    try:
        task.backend.store_result(job_id, meta, state)
    except _BACKEND_ERRORS:
        # A mirror of the ledger for Flower: a result backend that is busy must not fail a
        # segment that has posted and been recorded (its fallback would mark it FAILED).
        log.warning("could not store the job's progress in the result backend",
                    extra={"job": job_id}, exc_info=True)


def maybe_finish(spec: FileFlow, job_id: str) -> None:
    """Outside a chord: once no chunk is pending, someone must send the ack; ask ``finish``."""
    if not runtime.get().ledger.chunk_counts(job_id)["PENDING"]:
        celery_app.send_task(spec.finish_task, kwargs={"job_id": job_id})


# -- finish ---------------------------------------------------------------------------------
def _desired_ack(counts: dict[str, int], failure: dict[str, Any] | None) -> str:
    total = sum(counts.values())
    return "SUCCESS" if failure is None and total and not counts["FAILED"] else "FAILURE"


def finish(spec: FileFlow, task: HubTask, *, job_id: str, failure: dict[str, Any] | None = None,
           takeover: bool = False) -> dict[str, Any]:
    """Send the one ack the ledger calls for, if it has not been sent; close the job.

    Used by the chord body, by a segment run outside a chord (via :func:`maybe_finish`), by the
    start step's fallback (``failure``) and by the reconciler (``takeover``: a claim whose owner
    died is taken over).
    """
    ledger = runtime.get().ledger
    job = ledger.get_job(job_id)
    if job is None:
        return {"status": "UNKNOWN"}
    counts = ledger.chunk_counts(job_id)
    if failure is None and counts["PENDING"]:
        return {"status": "WAITING", **counts}
    ack_type = _desired_ack(counts, failure)
    previous = (job.get("result") or {}).get("ackType")
    if previous == ack_type or previous == "SUCCESS":
        # This ack went out already (a redelivered body, a second finisher). A SUCCESS is
        # never followed by anything.
        return {"status": "ALREADY_ACKED", "ackType": previous}
    claim_flow, key = f"{spec.name}.ack", f"{job_id}:{ack_type}"
    owner = task.request.id or f"direct-{uuid.uuid4().hex}"
    earlier = ledger.claim_key(claim_flow, key, owner)
    if earlier not in (None, owner) and not (
            takeover and ledger.rebind_key(claim_flow, key, earlier, owner)):
        return {"status": "ALREADY_ACKED", "ackType": ack_type}
    message = (job.get("input") or {}).get("message") or {}
    file_info = (job.get("input") or {}).get("file") or {}
    summary, responses, details, first_call = _outcome(spec, job_id, message, counts,
                                                       failure)
    try:
        call("derms", spec.ack_op, json=spec.ack(message, ack_type, responses))
    except BaseException:
        ledger.release_key(claim_flow, key, owner)  # not sent: the next finisher may send it
        raise
    status = JobStatus.SUCCEEDED if ack_type == "SUCCESS" else JobStatus.FAILED
    result = {"ackType": ack_type, **summary, "fileName": file_info.get("fileName"),
              "ackedAt": iso(utcnow())}
    errors = [] if status == JobStatus.SUCCEEDED else (
        [failure] if failure else [{"step": spec.segment_task, "target": "dacs",
                                    "op": spec.dacs_op, "message": summary["problem"]}])
    ledger.set_job(job_id, status=status, result=result, errors=errors)
    _root_state(task, job_id, {"done": summary["segmentsDone"] + summary["segmentsFailed"],
                               "total": summary["segments"], "ackType": ack_type,
                               "jobStatus": status}, "SUCCESS")
    _emails(spec, task, job_id, status, summary, details, first_call, file_info, failure)
    return result


def _outcome(spec: FileFlow, job_id: str, message: dict[str, Any], counts: dict[str, int],
             failure: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                     list[str], dict[str, Any] | None]:
    """(summary for the job result, ack responses, detail lines for the emails, the first
    failed call's report)."""
    ledger = runtime.get().ledger
    subject = spec.subject(message) if message else job_id
    total = sum(counts.values())
    chunks = ledger.get_chunks(job_id)
    rows = sum(int(c["ref"]["segment"]["rows"]) for c in chunks)
    summary: dict[str, Any] = {"rows": rows, "segments": total, "segmentsDone": counts["DONE"],
                               "segmentsFailed": counts["FAILED"], "rowsRefused": 0,
                               "problem": None}
    now = now_iso()

    def response(id_: str, value: Any, code: str, text: str) -> dict[str, Any]:
        return {"id": id_, "value": value, "responseCode": code, "responseText": text,
                "responseTimeISO": now}

    if failure is not None:
        text = _describe(failure)
        summary["problem"] = text
        return summary, [response(subject, None, "FAILURE", text)], [text], failure
    if total == 0:
        text = "the file has no rows"
        summary["problem"] = text
        return summary, [response(subject, "0", "FAILURE", text)], [text], None
    if not counts["FAILED"]:
        text = f"{rows} rows sent to DACS in {total} segment(s)"
        return summary, [response(subject, str(rows), "SUCCESS", text)], [], None
    responses: list[dict[str, Any]] = []
    details: list[str] = []
    first_call: dict[str, Any] | None = None
    refused = 0
    for chunk in chunks:
        if chunk["status"] != "FAILED":
            continue
        error = _parse_error(chunk["error"])
        first, last = error.get("rows") or ["?", "?"]
        if error.get("call"):
            first_call = first_call or error["call"]
            text = _describe(error["call"])
            responses.append(response(f"rows {first}-{last}", f"segment {chunk['seq'] + 1}",
                                      "FAILURE", text))
            details.append(f"rows {first}-{last}: {text}")
        refused += int(error.get("rowErrorCount") or 0)
        for row_error in error.get("rowErrors") or []:
            responses.append(response(row_error.get("recordId") or f"row {row_error['row']}",
                                      f"row {row_error['row']}", "FAILURE", row_error["message"]))
            details.append(f"row {row_error['row']}: {row_error['message']}")
        hidden = int(error.get("rowErrorCount") or 0) - len(error.get("rowErrors") or [])
        if hidden > 0:
            responses.append(response(f"rows {first}-{last}", f"segment {chunk['seq'] + 1}",
                                      "FAILURE", f"{hidden} more row(s) refused in this segment"))
    summary["rowsRefused"] = refused
    summary["problem"] = (f"{counts['FAILED']} of {total} segment(s) failed"
                          + (f"; {refused} row(s) refused" if refused else ""))
    head = response(subject, str(rows), "FAILURE", summary["problem"])
    if len(responses) > MAX_ACK_RESPONSES:
        extra = len(responses) - MAX_ACK_RESPONSES
        responses = responses[:MAX_ACK_RESPONSES] + [response(
            subject, None, "FAILURE", f"... and {extra} more; see job {job_id}")]
    return summary, [head, *responses], details, first_call


def _parse_error(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"message": text}
    return value if isinstance(value, dict) else {"message": text}


def _emails(spec: FileFlow, task: HubTask, job_id: str, status: str, summary: dict[str, Any],
            details: list[str], first_call: dict[str, Any] | None, file_info: dict[str, Any],
            failure: dict[str, Any] | None) -> None:
    config = runtime.get().config
    if status == JobStatus.FAILED and failure is None:
        # One error email for the whole file (segments do not send their own); a failed start
        # step has sent its own already.
        text = summary["problem"] + (f"; first: {details[0]}" if details else "")
        task.report_error(job_id, {"target": "dacs", "op": spec.dacs_op,
                                   "status": (first_call or {}).get("status"), "message": text})
    if failure is None and config["notification.email.process.complete.flag"]:
        from tasks.common_errors import process_email

        counts = {k: summary[k] for k in ("rows", "segments", "segmentsDone", "segmentsFailed",
                                          "rowsRefused")}
        process_email.apply_async(kwargs={"kind": "process_complete", "context": {
            "flow": spec.name, "job_id": job_id, "time": iso(utcnow()), "status": status,
            "counts": counts, "details": details,
            "files_sent": [file_info["fileName"]] if file_info.get("fileName") and
            status == JobStatus.SUCCEEDED else [],
            "files_not_sent": [file_info["fileName"]] if file_info.get("fileName") and
            status == JobStatus.FAILED else []}})


# -- the reconciler -------------------------------------------------------------------------
def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def reconcile(now: dt.datetime | None = None) -> dict[str, int]:
    """Find file jobs the broker lost track of and set them going again, from the ledger.

    A job is looked at once nothing about it changed for ``dacs.file.segment.deadline.seconds``
    (progress on any segment counts as a change, so a long file that is moving is left alone):

    * PENDING segments not touched since the deadline are sent again (outside any chord: the
      last one to end enqueues ``finish``);
    * a job with no segments whose start step never ended is started again;
    * a job whose segments have all ended but whose ack does not match them runs ``finish``.
    """
    ledger = runtime.get().ledger
    config = runtime.get().config
    now = now or utcnow()
    idle_before = now - dt.timedelta(seconds=config["dacs.file.segment.deadline.seconds"])
    since = now - dt.timedelta(days=config["staging.retention.days"])
    done = {"segments": 0, "starts": 0, "finishes": 0}
    for job in ledger.idle_jobs(list(FILE_FLOWS), idle_before=idle_before, since=since):
        spec = FILE_FLOWS[job["flow"]]
        job_id = job["id"]
        counts = ledger.chunk_counts(job_id)
        total = sum(counts.values())
        errors = job.get("errors") or []
        last_step = errors[-1].get("step") if errors and isinstance(errors[-1], dict) else None
        if counts["PENDING"]:
            resent = []
            for chunk in ledger.get_chunks(job_id, status="PENDING"):
                if _aware(chunk["updated_at"]) >= idle_before:
                    continue
                ledger.touch_chunk(job_id, chunk["seq"])  # once per deadline, not every tick
                celery_app.send_task(spec.segment_task, kwargs={
                    **chunk["ref"], "seq": chunk["seq"], "job_id": job_id})
                resent.append(chunk["seq"])
            if resent:
                ledger.add_event(job_id, "step", "housekeeping.reconcile", "RESENT",
                                 {"segments": resent[:100], "count": len(resent)})
                done["segments"] += len(resent)
        elif total == 0 and job["status"] in (JobStatus.QUEUED, JobStatus.RUNNING):
            stored = job.get("input") or {}
            if not stored.get("file"):
                continue
            ledger.set_job(job_id)  # touch: one re-start per deadline
            celery_app.send_task(spec.start_task, task_id=job_id, kwargs={
                "message": stored["message"], "staged": stored["file"], "job_id": job_id})
            ledger.add_event(job_id, "step", "housekeeping.reconcile", "RESTARTED")
            done["starts"] += 1
        elif total == 0 or last_step == spec.finish_task:
            continue  # finished, or its ack could not be delivered: a dead letter waits for ops
        else:
            wanted = _desired_ack(counts, None)
            if (job.get("result") or {}).get("ackType") in (wanted, "SUCCESS"):
                continue
            ledger.set_job(job_id)  # touch: one finish per deadline
            celery_app.send_task(spec.finish_task, kwargs={"job_id": job_id, "takeover": True})
            ledger.add_event(job_id, "step", "housekeeping.reconcile", "FINISH")
            done["finishes"] += 1
    if any(done.values()):
        log.warning("reconciler set lost file work going again", extra=done)
    return done
