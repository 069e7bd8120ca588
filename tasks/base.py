"""``HubTask``: the one base class of every task.

It does, for every flow, what no flow should do by hand:

* binds the correlation id (the ``job_id`` keyword every task takes) and the flow to every log line
  and outbound call;
* moves the job to RUNNING, and to SUCCEEDED when a job-completing step returns;
* retries only transient errors (``retry_on``), with capped exponential backoff and jitter, or
  after a 429's ``Retry-After``;
* when the retries are spent, or on a non-retryable error, records the failure: a dead letter with
  the step's stored input, the job FAILED with the error, and a call to the error handler. A step
  that must still answer (a negative MsgAck, a segment status) returns its ``fallback`` value
  after that; every other step re-raises, so Flower shows it failed.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from celery import Task
from celery.exceptions import Retry

from hub import metrics, runtime
from hub.clients import DownstreamError, TransientError
from hub.ledger import JobStatus, iso, utcnow
from hub.logs import bind

__all__ = ["HubTask", "call", "failure_report"]

log = logging.getLogger(__name__)


def failure_report(exc: BaseException) -> dict[str, Any]:
    """What the ledger and the error email say about a failure. Never a payload or a secret."""
    if isinstance(exc, DownstreamError):
        return exc.as_dict()
    report = getattr(exc, "as_dict", None)
    if callable(report):
        return report()
    return {"target": None, "op": None, "status": None,
            "message": f"{type(exc).__name__}: {exc}"[:500],
            "transient": False}


class HubTask(Task):
    """Base class: correlation, retries by error class, the ledger and dead letters."""

    #: the flow this task belongs to (file and task names say it too)
    flow: str = "unknown"
    #: errors worth retrying; each client or transport declares its own
    retry_on: tuple[type[BaseException], ...] = (TransientError,)
    #: errors that end the step at once (business errors are results, not retries)
    fail_on: tuple[type[BaseException], ...] = (DownstreamError,)
    #: a successful return finishes the job (False for intermediate steps and segments)
    completes_job: bool = True
    #: send the error email when this step fails (off for the error handler itself)
    notify_errors: bool = True
    #: the property that caps this step's retries
    retry_limit: str = "http.retry.max"
    #: update the job's status (off for steps that report for a job without owning it)
    owns_job: bool = True

    acks_late = True
    reject_on_worker_lost = True

    # -- hooks for subclasses / task functions --------------------------------------------------
    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> Any:
        """The answer of a step that failed but must still answer; None means re-raise."""
        return None

    # -- machinery ------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # A file segment (its kwargs carry the segment number): time it, for hub_segment_seconds.
        seq = kwargs.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self._run(args, kwargs)
        started = time.monotonic()
        try:
            return self._run(args, kwargs)
        finally:
            metrics.SEGMENT_SECONDS.labels(flow=self.flow).observe(time.monotonic() - started)

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        job_id = kwargs.get("job_id")
        with bind(job_id, self.flow):
            ledger = runtime.get().ledger
            if job_id and self.owns_job and not self.request.called_directly:
                ledger.set_job(job_id, status=JobStatus.RUNNING)
            try:
                result = super().__call__(*args, **kwargs)
            except Retry:
                raise
            except self.retry_on as exc:
                self._maybe_retry(exc)
                return self._failed(exc, args, kwargs)
            except self.fail_on as exc:
                return self._failed(exc, args, kwargs)
            except Exception as exc:
                # A bug or an unexpected error: record it like any failure, then let it show.
                self._record_failure(exc, args, kwargs)
                raise
            if job_id and self.completes_job and self.owns_job:
                ledger.set_job(job_id, status=JobStatus.SUCCEEDED, result=_jsonable(result),
                               errors=[])
            return result

    def _maybe_retry(self, exc: BaseException) -> None:
        if self.request.called_directly:
            return
        config = runtime.get().config
        max_retries = config[self.retry_limit]
        retries = self.request.retries
        if retries >= max_retries:
            return
        countdown = getattr(exc, "retry_after", None)
        if countdown is None:
            base = config["http.retry.backoff.seconds"] * (2 ** retries)
            countdown = min(config["http.retry.backoff.max.seconds"], base)
            countdown = countdown * (0.5 + random.random() / 2)  # jitter: 50-100 %
        metrics.TASK_RETRIES.labels(task=self.name).inc()
        log.warning("transient error, retrying", extra={
            "task": self.name, "attempt": retries + 1, "countdown": round(countdown, 2),
            "error": str(exc)[:300]})
        if job_id := self.request.kwargs.get("job_id") if self.request.kwargs else None:
            runtime.get().ledger.add_event(job_id, "step", self.name, "RETRY",
                                           failure_report(exc))
        raise self.retry(exc=exc, countdown=countdown, max_retries=max_retries)

    def _failed(self, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # The answer first: the job turns FAILED with it in one write, so the door never sees a
        # FAILED job without the negative MsgAck it must give.
        answer = self.fallback(exc, *args, **kwargs)
        self._record_failure(exc, args, kwargs, result=answer)
        if answer is None:
            raise exc
        return answer

    def _record_failure(self, exc: BaseException, args: tuple[Any, ...],
                        kwargs: dict[str, Any], result: Any = None) -> None:
        if getattr(exc, "_hub_recorded", False):
            return
        exc._hub_recorded = True  # type: ignore[attr-defined]
        ledger = runtime.get().ledger
        job_id = kwargs.get("job_id")
        report = failure_report(exc)
        attempts = self.request.retries + 1
        log.error("step failed", extra={"task": self.name, "attempts": attempts,
                                        "error": report["message"], "status": report["status"]})
        entry_id = ledger.add_dead_letter(
            flow=self.flow, job_id=job_id, step=self.name,
            input={"args": list(args), "kwargs": kwargs},
            error=f"{report.get('target') or ''} {report.get('op') or ''} "
                  f"HTTP {report.get('status')}: {report['message']}".strip(),
            attempts=attempts)
        metrics.DEAD_LETTERS.labels(flow=self.flow).inc()
        if job_id:
            ledger.add_event(job_id, "step", self.name, "FAILED", {**report, "deadLetter": entry_id})
            if self.owns_job:
                ledger.set_job(job_id, status=JobStatus.FAILED, errors=[{**report, "step": self.name}],
                               result=_jsonable(result) if self.completes_job else None)
        if self.notify_errors:
            self.report_error(job_id, report)

    def report_error(self, job_id: str | None, report: dict[str, Any]) -> None:
        """Hand the failure to the Common Error Handler (its own task: a mail failure never fails us)."""
        message_id = None
        if job_id:
            job = runtime.get().ledger.get_job(job_id)
            message_id = job["message_id"] if job else None
        from tasks.common_errors import handle_error

        handle_error.apply_async(kwargs={"job_id": job_id, "report": {
            "flow": self.flow, "jobId": job_id, "step": self.name, "messageId": message_id,
            "time": iso(utcnow()), "downstreamStatus": report.get("status"),
            "downstreamMessage": report.get("message"), "target": report.get("target")}})


def call(target: str, op: str, *, instance: str | None = None, **kwargs: Any) -> Any:
    """Call ``op`` on the DACS or DERMS client and put the call on the job's timeline.

    ``instance`` (a drmsInstanceId) picks the DACS that serves that DERMS instance, by the
    _Routing lookup (:meth:`hub.runtime.Runtime.dacs_for`).
    """
    from hub.logs import current_correlation_id

    rt = runtime.get()
    client = rt.dacs_for(instance) if target == "dacs" and instance else getattr(rt, target)
    job_id = current_correlation_id()
    try:
        status, body = client.call(op, **kwargs)
    except DownstreamError as exc:
        if job_id:
            runtime.get().ledger.add_event(job_id, "call", f"{target}.{op}", str(exc.status),
                                           {"message": exc.message[:300]})
        raise
    if job_id:
        runtime.get().ledger.add_event(job_id, "call", f"{target}.{op}", str(status))
    return body


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (dict, list, str, int, float, bool)) or value is None else str(value)
