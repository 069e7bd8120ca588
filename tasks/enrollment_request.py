"""Enrollment Request (DERMS -> DACS): the enrollments in parallel, as a chord, then one MsgAck.

* ``enrollment_request.send`` launches the chord and returns: the job stays RUNNING, and the door
  goes on waiting on the ledger;
* ``enrollment_request.enroll`` (one per enrollment, in parallel) makes one DACS enroll call and
  always returns that enrollment's response: SUCCESS (also for DACS's 10589, already enrolled),
  ERROR (a DACS business error, or a value with no lookup row) or, once the retries of a technical
  fault are spent, FAILURE. It owns no job and sends no email;
* ``enrollment_request.collect`` (the chord's body) builds the MsgAck, finishes the job (FAILED
  when any enrollment had a technical fault, so DERMS's re-send is a new attempt) and sends the
  error email once per request, not once per enrollment;
* ``enrollment_request.chord_failed`` is the body's error callback: should an enroll step crash
  (a bug), the job still ends, with a FAILURE for every enrollment, instead of waiting forever.

A failed enrollment's dead letter, re-queued, runs ``enroll`` alone; it then writes its new
response into the FAILED job's MsgAck, and the job turns SUCCEEDED once no FAILURE is left.
"""

from __future__ import annotations

from typing import Any

from celery import chord, group
from sqlalchemy import select, update

from hub import runtime
from hub.clients import DownstreamError, TransientError
from hub.ledger import JobStatus, jobs, utcnow
from mappings import enrollment_request as mapping
from mappings.base import msg_ack
from mappings.lookups import UnmappedValue
from tasks.app import celery_app
from tasks.base import HubTask, call, failure_report

#: how often the embedded broker's result backend is polled for the chord's end (seconds)
CHORD_POLL_SECONDS = 0.2


def fault_text(report: dict[str, Any]) -> str:
    """A technical fault, as DERMS reads it in ``responseText``."""
    target = (report.get("target") or "DACS").upper()
    if report.get("status"):
        return f"{target} answered HTTP {report['status']}: {report.get('message')}"
    return f"{target} call failed: {report.get('message')}"


class _Enroll(HubTask):
    """A spent technical fault still answers: that enrollment's FAILURE response.

    Re-queued from its dead letter, the step runs outside its chord: it then writes its new
    response into the job's MsgAck itself (:func:`merge_requeued`).
    """

    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> dict[str, Any]:
        request_id = kwargs["enrollment"]["enrollmentRequestId"]
        report = {**failure_report(exc), "enrollmentRequestId": request_id}
        return {"response": mapping.failure_response(request_id, fault_text(report)),
                "fault": report}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = super().__call__(*args, **kwargs)
        if not self.request.called_directly and self.request.chord is None \
                and isinstance(result, dict) and kwargs.get("job_id"):
            merge_requeued(kwargs["job_id"], result)
        return result


@celery_app.task(bind=True, base=HubTask, name="enrollment_request.send", flow=mapping.FLOW,
                 completes_job=False)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    """Launch one ``enroll`` per enrollment, in parallel, and ``collect`` when all are in."""
    head = {"messageId": message["messageId"], "drmsInstanceId": message["drmsInstanceId"]}
    header = group(enroll.s(head=head, enrollment=enrollment, job_id=job_id)
                   .set(task_id=f"{job_id}.e{index}")
                   for index, enrollment in enumerate(message["enrollments"]))
    body = collect.s(message_id=message["messageId"], job_id=job_id)
    body.link_error(chord_failed.s(job_id=job_id))
    chord(header, body).apply_async(task_id=f"{job_id}.collect", interval=CHORD_POLL_SECONDS)
    runtime.get().ledger.add_event(job_id, "step", self.name, "LAUNCHED",
                                   {"enrollments": len(message["enrollments"])})
    return {"enrollments": len(message["enrollments"])}


@celery_app.task(bind=True, base=_Enroll, name="enrollment_request.enroll", flow=mapping.FLOW,
                 completes_job=False, owns_job=False, notify_errors=False)
def enroll(self: HubTask, head: dict[str, Any], enrollment: dict[str, Any],
           job_id: str) -> dict[str, Any]:
    """One enrollment, one DACS call: ``{"response": <MsgAck response>, "fault": report|None}``."""
    request_id = enrollment["enrollmentRequestId"]
    try:
        body = mapping.to_dacs(head, enrollment)
    except UnmappedValue as exc:
        return {"response": mapping.unmapped_response(request_id, exc), "fault": None}
    try:
        answer = call("dacs", "enroll", json=body, instance=head["drmsInstanceId"])
    except TransientError:
        raise  # retried by HubTask; once spent, the fallback's FAILURE
    except DownstreamError as exc:
        business = mapping.dacs_business_error(exc.body)
        if business is None:
            raise  # a refusal that is not DACS's business answer (401, 404...): a fault
        number, text = business
        return {"response": mapping.business_error_response(request_id, number, text),
                "fault": None}
    if not isinstance(answer, dict) or not answer.get("enrollmentId"):
        return {"response": mapping.business_error_response(
            request_id, None, "DACS answered without an enrollmentId"), "fault": None}
    return {"response": mapping.success_response(request_id, answer), "fault": None}


@celery_app.task(bind=True, base=HubTask, name="enrollment_request.collect", flow=mapping.FLOW,
                 completes_job=False)
def collect(self: HubTask, results: list[dict[str, Any]], message_id: str,
            job_id: str) -> dict[str, Any]:
    """Every enrollment is in: the MsgAck, the job's end, and at most one error email."""
    responses = [r["response"] for r in results]
    faults = [r["fault"] for r in results if r.get("fault")]
    answer = {"status": 200, "body": msg_ack(message_id, responses)}
    ledger = runtime.get().ledger
    if faults:
        ledger.set_job(job_id, status=JobStatus.FAILED, result=answer, done=len(results),
                       errors=[{**f, "step": enroll.name} for f in faults])
        enroll.report_error(job_id, {**faults[0], "message": (
            f"{len(faults)} of {len(results)} enrollments failed; first: "
            f"{faults[0].get('message')}")})
    else:
        ledger.set_job(job_id, status=JobStatus.SUCCEEDED, result=answer, done=len(results),
                       errors=[])
    return answer


@celery_app.task(bind=True, base=HubTask, name="enrollment_request.chord_failed",
                 flow=mapping.FLOW, completes_job=False, owns_job=False)
def chord_failed(self: HubTask, failed_task_id: str, job_id: str) -> dict[str, Any] | None:
    """An enroll or the collect step crashed: answer FAILURE for every enrollment."""
    ledger = runtime.get().ledger
    job = ledger.get_job(job_id)
    if job is None or job["status"] in JobStatus.FINISHED:
        return None  # the collect step finished it after all
    message = (job.get("input") or {}).get("message") or {}
    # (failed_task_id names the chord's body whichever step broke: the job's timeline says more)
    text = f"the hub could not finish this request: a step failed unexpectedly (job {job_id})"
    responses = [mapping.failure_response(e["enrollmentRequestId"], text)
                 for e in message.get("enrollments", [])]
    answer = {"status": 200, "body": msg_ack(message.get("messageId"), responses)}
    report = {"target": "hub", "op": "enroll", "status": None, "message": text,
              "transient": False}
    ledger.set_job(job_id, status=JobStatus.FAILED, result=answer,
                   errors=[{**report, "step": enroll.name}])
    self.report_error(job_id, report)
    return answer


def merge_requeued(job_id: str, result: dict[str, Any]) -> str | None:
    """Put a re-queued enrollment's new response into its FAILED job's MsgAck.

    The job turns SUCCEEDED once no response is a FAILURE any more, so re-queued work finishes its
    job as if it had not failed (DERMS's re-send of the message then gets that answer). Returns
    the job's new status, or None when the job is not a FAILED one with a MsgAck.
    """
    response, fault = result["response"], result.get("fault")
    request_id = response["id"]
    ledger = runtime.get().ledger
    with ledger.begin() as conn:
        # Write first: it takes the row's lock (PostgreSQL) or the write lock (SQLite), so two
        # re-queued enrollments of one job merge one after the other, never over each other.
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=utcnow()))
        row = conn.execute(select(jobs.c.status, jobs.c.result, jobs.c.errors)
                           .where(jobs.c.id == job_id)).first()
        answer = row.result if row is not None else None
        if row is None or row.status != JobStatus.FAILED or not isinstance(answer, dict) \
                or not isinstance(answer.get("body"), dict):
            return None
        body = answer["body"]
        responses = [response if r.get("id") == request_id else r for r in body["responses"]]
        errors = [e for e in row.errors or [] if e.get("enrollmentRequestId") != request_id]
        if fault:
            errors.append({**fault, "step": enroll.name})
        status = JobStatus.FAILED if any(r["responseCode"] == "FAILURE" for r in responses) \
            else JobStatus.SUCCEEDED
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(
            status=status, errors=errors,
            result={**answer, "body": msg_ack(body.get("messageId"), responses)}))
    ledger.add_event(job_id, "state", "status", status,
                     {"requeued": request_id, "responseCode": response["responseCode"]})
    return status
