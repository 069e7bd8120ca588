"""The front door's intake: parse, validate, claim the idempotency key, record, enqueue, answer.

Every inbound flow goes through :class:`Intake`, so every flow gets the same guarantees:

* a refused request enqueues nothing and stages nothing;
* ``202`` (or a synchronous answer) only after the job and its input are in the ledger;
* a replayed message (same ``Idempotency-Key`` or message id, same flow) is not processed twice:
  while the first is queued or running the answer is ``409``; once it succeeded, its first answer
  is given again; once it FAILED, the replay is taken as a new attempt (DERMS re-sends FAILURE'd
  messages by design, see docs/flows.md).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Response, g, jsonify, request, url_for
from kombu.exceptions import OperationalError
from marshmallow import Schema

from hub import metrics, runtime
from hub.errors import ApiError
from hub.flows import Flow
from hub.ledger import JobStatus

__all__ = ["Intake", "read_json", "load_message", "CORRELATION_RE"]

log = logging.getLogger(__name__)

CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def read_json() -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(400, "Wrong content type",
                       f"expected application/json, got {request.mimetype or 'nothing'}",
                       {"Content-Type": ["must be application/json"]})
    raw = request.get_data(cache=False)
    return parse_json(raw, "body")


def parse_json(raw: bytes | str, where: str) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Malformed JSON", f"{where} is not UTF-8",
                       {where: ["not UTF-8"]}) from exc
    except json.JSONDecodeError as exc:
        raise ApiError(400, "Malformed JSON",
                       f"{where}: {exc.msg} at line {exc.lineno} column {exc.colno}",
                       {where: [f"{exc.msg} at line {exc.lineno} column {exc.colno}"]}) from exc


def load_message(schema: type[Schema], data: Any) -> dict[str, Any]:
    """Validate with the flow's schema; a ValidationError becomes a 400 naming each field."""
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid message", "the message must be a JSON object",
                       {"body": ["must be a JSON object"]})
    return schema().load(data)


class Intake:
    """One inbound request of one flow, from idempotency check to answer."""

    def __init__(self, flow: Flow, message_id: str | None):
        self.flow = flow
        self.ledger = runtime.get().ledger
        header_key = request.headers.get("Idempotency-Key")
        self.key = (header_key or message_id or "").strip()[:256] or None
        self.message_id = message_id
        self.job_id = self._new_job_id()

    def _new_job_id(self) -> str:
        wanted = g.correlation_id
        # The job id is the correlation id, unless a caller reused one for another message.
        if not self.ledger.job_exists(wanted):
            return wanted
        return f"{wanted}.{uuid.uuid4().hex[:8]}"

    def start(self) -> Response | None:
        """Claim the idempotency key. A response means: a replay, answer it and do nothing else."""
        if not self.key:
            return None
        earlier = self.ledger.claim_key(self.flow.name, self.key, self.job_id)
        if earlier is None:
            return None
        job = self.ledger.get_job(earlier)
        if job is None:
            # The first request claimed the key and is still being accepted (staging its file,
            # say): it is in progress.
            raise ApiError(409, "Already in progress",
                           f"message {self.key} is being accepted as job {earlier}",
                           extra={"jobId": earlier, "statusUrl": _status_url(earlier)})
        if job["status"] == JobStatus.FAILED:
            if self.ledger.rebind_key(self.flow.name, self.key, earlier, self.job_id):
                log.info("replay of a failed message: a new attempt",
                         extra={"earlierJob": earlier, "key": self.key})
                return None
            # Another replay won the rebind a moment ago: that one is the attempt in progress.
            raise ApiError(409, "Already in progress",
                           f"message {self.key} is being retried by another request")
        if job["status"] in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise ApiError(409, "Already in progress",
                           f"message {self.key} is being processed as job {job['id']}",
                           extra={"jobId": job["id"], "statusUrl": _status_url(job["id"])})
        log.info("replay of a processed message: first answer again", extra={"job": job["id"]})
        return self._answer_finished(job, replay=True)

    def abort(self) -> None:
        """Undo :meth:`start` for a request refused after it (e.g. a bad file)."""
        if self.key:
            self.ledger.release_key(self.flow.name, self.key, self.job_id)

    def commit(self, *, input: Any, task_kwargs: dict[str, Any], total: int = 0) -> Response:
        """Record the job with its input, enqueue its first task, and answer."""
        client = getattr(g, "client", None)
        self.ledger.create_job(self.job_id, self.flow.name, client=client,
                               message_id=self.message_id, input=input, total=total)
        from tasks.app import celery_app

        try:
            celery_app.send_task(self.flow.task, kwargs={**task_kwargs, "job_id": self.job_id},
                                 task_id=self.job_id)
        except OperationalError as exc:
            self.ledger.set_job(self.job_id, status=JobStatus.FAILED,
                                errors=[{"message": "broker unavailable", "step": "enqueue"}])
            self.abort()
            raise ApiError(503, "Broker unavailable", "the message was not accepted; retry later",
                           headers={"Retry-After": "30"}) from exc
        metrics.MESSAGES_ACCEPTED.labels(flow=self.flow.name).inc()
        if self.flow.mode == "async":
            return _accepted(self.job_id)
        return self._wait()

    def _wait(self) -> Response:
        """Wait for the job to finish, reading the ledger (not the result backend), so a flow whose
        answer comes from a later step (a chord's body, say) is waited for the same way."""
        timeout = runtime.get().config["sync.timeout.seconds"]
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            job = self.ledger.get_job(self.job_id)
            if job is not None and job["status"] in JobStatus.FINISHED:
                return self._answer_finished(job, replay=False)
            if time.monotonic() >= deadline:
                raise ApiError(504, "Still processing",
                               f"no answer within {timeout:g}s; the job goes on and can be polled",
                               extra={"jobId": self.job_id, "statusUrl": _status_url(self.job_id)})
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def _answer_finished(self, job: dict[str, Any], *, replay: bool) -> Response:
        if self.flow.mode == "async":
            response = _accepted(job["id"])
            if replay:
                response.headers["X-Idempotent-Replay"] = "true"
            return response
        answer = job.get("result")
        if isinstance(answer, dict) and "status" in answer:
            response = jsonify(answer.get("body", {}))
            response.status_code = int(answer["status"])
        else:
            response = fault(job)
        response.headers["X-Job-ID"] = job["id"]
        if replay:
            response.headers["X-Idempotent-Replay"] = "true"
        return response


def fault(job: dict[str, Any]) -> Response:
    """The 502 problem a synchronous flow answers when its downstream call failed."""
    from hub.errors import problem

    errors = job.get("errors") or [{}]
    last = errors[-1]
    target = (last.get("target") or "downstream").upper()
    status = last.get("status")
    detail = f"{target} answered HTTP {status}: {last.get('message')}" if status else \
        f"{target} call failed: {last.get('message')}"
    return problem(502, "Downstream fault", detail, jobId=job["id"],
                   downstreamStatus=status, statusUrl=_status_url(job["id"]))


def _status_url(job_id: str) -> str:
    return url_for("jobs.get_job", job_id=job_id, _external=False)


def _accepted(job_id: str) -> Response:
    response = jsonify({"jobId": job_id, "status": JobStatus.QUEUED,
                        "statusUrl": _status_url(job_id)})
    response.status_code = 202
    response.headers["Location"] = _status_url(job_id)
    return response
