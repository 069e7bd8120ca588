"""Device Score transfer (DACS -> DERMS), run by Beat and on demand: OIC's "Device Score FTP
Transfer" and "Device Score OS Transfer" in one task, the source picked per run.

One run:

1. lists the files starting with ``dacs.dvcScore.extract.filename.prefix`` in
   ``dacs.dvcScore.ftp.input.directory`` (``source`` "ftp": SFTP, FTP or FTPS by
   ``dacs.ftp.url``) or in bucket ``dacs.os.dvcScore.bucketname`` (``source`` "os");
2. for each file, oldest name first: claims it in the ledger (so two runs, two Beat ticks or
   two workers never send one file twice), checks it has not changed since the listing,
   downloads it to a temporary file under ``var.dir/tmp``, posts it to DERMS ``/device-score``
   as the multipart part ``file`` (streamed from disk), and renames it ``Sent-<name>`` on a
   200/202 or ``Error-<name>`` on a refusal, then goes on with the next file;
3. sends the no-file email when nothing was found (``notification.email.process.nofile.flag``),
   the error email for each file not sent, and the process-complete email with the files sent
   and not sent (``notification.email.process.complete.flag``).

Transient errors (a dropped connection, DERMS 5xx / 429 / timeouts) are retried *inside* the
step, per file, never by re-running the whole task: that would send the files already sent
again. A file server that stays unreachable ends the run; the files not yet handled are left
untouched (and unclaimed) for the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub import runtime
from hub.clients import DownstreamError, HttpTarget
from hub.config import Config, ConfigError
from hub.ledger import JobStatus, Ledger, iso, utcnow
from hub.transfers import ProgressWriter, open_spool, transport_for, with_retries
from hub.transports import (
    Entry,
    TransientTransportError,
    Transport,
    TransportError,
    UnsafeNameError,
)
from mappings import device_score as mapping
from tasks.app import celery_app
from tasks.base import HubTask

__all__ = ["run", "run_transfer", "Notifier", "QueuedNotifier", "ClaimLost", "CLAIM_LEASE",
           "source_location", "start_scheduled_run"]

log = logging.getLogger(__name__)

FLOW = mapping.FLOW
#: How long a claim on a file lasts without renewal: a worker that dies mid-transfer blocks the
#: file for at most this long, after which another run takes it over.
CLAIM_LEASE = dt.timedelta(minutes=5)
#: A transfer in progress renews its claim this often (seconds).
RENEW_EVERY = 60.0


class ClaimLost(Exception):
    """Another run took this file over (our lease ran out): stop touching it."""


class Notifier(Protocol):
    """Where a run's emails go: the Common Error Handler and the process emails."""

    def error(self, step: str, report: dict[str, Any]) -> None: ...

    def process(self, kind: str, context: dict[str, Any]) -> None: ...


class QueuedNotifier:
    """Enqueues the emails as their own tasks (queue ``hub.mail``), so a mail relay that is down
    never fails or slows the transfer."""

    def __init__(self, job_id: str | None):
        self.job_id = job_id

    def error(self, step: str, report: dict[str, Any]) -> None:
        from tasks.common_errors import handle_error

        handle_error.apply_async(kwargs={"job_id": self.job_id, "report": {
            "flow": FLOW, "jobId": self.job_id, "step": step, "messageId": None,
            "time": iso(utcnow()), "downstreamStatus": report.get("status"),
            "downstreamMessage": report.get("message"), "target": report.get("target")}})

    def process(self, kind: str, context: dict[str, Any]) -> None:
        from tasks.common_errors import process_email

        process_email.apply_async(kwargs={"kind": kind, "context": context})


def source_location(config: Config, source: str) -> tuple[str, dict[str, Any]]:
    """A human description of where a run looks, and the :func:`transport_for` arguments."""
    if source == "os":
        bucket = config.get("dacs.os.dvcScore.bucketname")
        if not bucket:
            raise ConfigError({"dacs.os.dvcScore.bucketname": "needed for the os source"})
        return f"bucket {bucket}", {"kind": "os", "bucket": bucket}
    if source == "ftp":
        directory = config.get("dacs.dvcScore.ftp.input.directory") or ""
        return (f"directory {directory or '(login directory)'} on {config.get('dacs.ftp.url')}",
                {"kind": "ftp", "directory": directory})
    raise ConfigError({"source": f"must be ftp or os, not {source!r}"})


@dataclass
class _Run:
    """The state of one run (see :func:`run_transfer`)."""

    config: Config
    ledger: Ledger
    source: str
    job_id: str
    transport: Transport
    derms: HttpTarget
    notifier: Notifier
    location: str
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    sent: list[str] = field(default_factory=list)
    not_sent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = self.config["dacs.dvcScore.extract.filename.prefix"] or ""
        self.sent_tag = self.config["dacs.prefixtag.fileuploaded"]
        self.error_tag = self.config["dacs.prefixtag.filenotuploaded"]
        if not self.sent_tag or not self.error_tag or self.sent_tag == self.error_tag:
            raise ConfigError({"dacs.prefixtag.fileuploaded": "the sent and not-sent prefix "
                               "tags must be set and differ, or files would be sent again"})
        # The claim's source: the transport without credentials, so two hubs pointed at the
        # same place share claims, and a second source never collides with the first.
        self.claim_source = f"{FLOW}:{self.source}:{self.transport!r}"[:512]
        self.owner = self.job_id[:128]

    # -- helpers -------------------------------------------------------------------------------
    def retry(self, what: str, fn: Callable[[], Any]) -> Any:
        def note(attempt: int, exc: BaseException) -> None:
            self.ledger.add_event(self.job_id, "step", what, "RETRY",
                                  {"attempt": attempt, "message": str(exc)[:300]})

        return with_retries(self.config, what, fn, on_retry=note, sleep=self.sleep)

    def event(self, name: str, status: str, detail: dict[str, Any] | None = None) -> None:
        self.ledger.add_event(self.job_id, "step", name, status, detail)

    def renewer(self, key: str) -> Callable[[int], None]:
        last = self.clock()

        def tick(_done: int) -> None:
            nonlocal last
            if self.clock() - last < RENEW_EVERY:
                return
            if not self.ledger.renew_claim(self.claim_source, key, self.owner, CLAIM_LEASE):
                raise ClaimLost(f"the claim on {key} was taken over")
            last = self.clock()
        return tick

    def fail_file(self, name: str, step: str, exc: BaseException) -> None:
        report = _report(exc)
        self.not_sent.append({"file": name, "step": step, "error": report["message"],
                              "status": report.get("status")})
        self.event(f"{step} {name}", "FAILED", report)
        self.notifier.error(f"device_score.{step}", {
            **report, "message": f"{name}: {report['message']}"})

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        listing = self.retry("list", lambda: self.transport.list(self.prefix))
        taken, young = mapping.eligible(
            listing, prefix=self.prefix, tags=(self.sent_tag, self.error_tag),
            min_age=float(self.config["device.score.min.age.seconds"]), now=self.clock())
        self.waiting = [e.name for e in young]
        self.event("list", "OK", {"found": len(taken), "waiting": len(young)})
        self.ledger.set_job(self.job_id, total=len(taken))
        if not taken and not young:
            if self.config["notification.email.process.nofile.flag"]:
                self.notifier.process("no_file", {
                    "flow": FLOW, "job_id": self.job_id, "time": iso(utcnow()),
                    "location": self.location, "prefix": self.prefix})
            return self.result()
        for index, entry in enumerate(taken):
            if not self.one(entry):
                # The file server is unreachable: leave the rest for the next run.
                for rest in taken[index + 1:]:
                    self.skipped.append({"file": rest.name, "reason": "file server unreachable"})
                break
            self.ledger.set_job(self.job_id, done=index + 1)
        if (self.sent or self.not_sent) and self.config["notification.email.process.complete.flag"]:
            counts = {"sent": len(self.sent), "not sent": len(self.not_sent)}
            if self.skipped:
                counts["skipped"] = len(self.skipped)
            self.notifier.process("process_complete", {
                "flow": FLOW, "job_id": self.job_id, "time": iso(utcnow()),
                "status": "SUCCESS" if not self.not_sent else "COMPLETED WITH ERRORS",
                "counts": counts, "files_sent": list(self.sent),
                "files_not_sent": [f["file"] for f in self.not_sent],
                "details": [f"{f['file']}: {f['step']} failed: {f['error']}"
                            for f in self.not_sent]
                + [f"{s['file']}: skipped ({s['reason']})" for s in self.skipped]})
        return self.result()

    def one(self, entry: Entry) -> bool:
        """Handle one file. False when the file server is unreachable (stop the run)."""
        name = entry.name
        key = mapping.claim_key(entry)
        if not self.ledger.claim_file(self.claim_source, key, self.owner, CLAIM_LEASE):
            self.skipped.append({"file": name, "reason": "claimed by another run, or sent already"})
            self.event(f"claim {name}", "SKIPPED")
            return True
        finished = False
        try:
            try:
                now = [e for e in self.retry(f"look {name}",
                                             lambda: self.transport.list(name))
                       if e.name == name]
            except TransientTransportError as exc:
                self.fail_file(name, "download", exc)
                return False
            if not now or now[0].size != entry.size or int(now[0].mtime) != int(entry.mtime):
                reason = "gone since the listing" if not now else "changed since the listing"
                self.skipped.append({"file": name, "reason": reason})
                return True
            with open_spool(self.config, "device-score") as spool:
                tick = self.renewer(key)

                def download() -> int:
                    spool.seek(0)
                    spool.truncate()
                    writer = ProgressWriter(spool, tick)  # type: ignore[arg-type]
                    return self.transport.get(name, writer)  # type: ignore[arg-type]

                try:
                    size = self.retry(f"download {name}", download)
                except TransientTransportError as exc:
                    # Unreachable even after the retries: it cannot be renamed either.
                    self.fail_file(name, "download", exc)
                    return False
                except TransportError as exc:
                    self.fail_file(name, "download", exc)
                    finished = self.rename(name, self.error_tag, key, "ERROR")
                    return True
                if size != entry.size:
                    self.skipped.append({"file": name, "reason": "changed while downloading"})
                    return True
                spool.flush()
                self.event(f"download {name}", "OK", {"bytes": size})

                def post() -> Any:
                    spool.seek(0)  # a retry sends the file again from its start
                    return self.derms.call("device_score", progress=tick, files={
                        "file": (name, spool, "application/octet-stream")})

                try:
                    status, _body = self.retry(f"post {name}", post)
                except DownstreamError as exc:  # a refusal, or a transient one retried out
                    self.fail_file(name, "post", exc)
                    finished = self.rename(name, self.error_tag, key, "ERROR")
                    return True
            # SENT at once, before the rename: should this worker die between the two, no later
            # run may send the file again (a finished claim is never taken over).
            self.ledger.finish_claim(self.claim_source, key, self.owner, "SENT")
            finished = True
            self.ledger.add_event(self.job_id, "call", "derms.device_score", str(status),
                                  {"file": name, "bytes": size})
            self.sent.append(name)
            self.rename(name, self.sent_tag, key, "SENT")
            return True
        except ClaimLost as exc:
            log.warning("claim lost; leaving the file to the run that took it over",
                        extra={"file": name})
            self.skipped.append({"file": name, "reason": str(exc)})
            finished = True  # the claim is someone else's now: do not release it
            return True
        finally:
            if not finished:
                self.ledger.release_claim(self.claim_source, key, self.owner)

    def rename(self, name: str, tag: str, key: str, status: str) -> bool:
        """Rename the file with ``tag``; True when its claim is finished.

        A file sent already holds a SENT claim (finished before the rename), so it is never
        sent again even when the rename fails. A file not sent gets its ERROR claim once
        renamed; if the rename failed, the caller releases the claim so the next run tries the
        file again.
        """
        new = mapping.tagged(tag, name)
        try:
            self.retry(f"rename {name}", lambda: self.transport.rename(name, new))
        except TransportError as exc:
            report = _report(exc)
            self.warnings.append({"file": name, "renameTo": new, "error": report["message"]})
            self.event(f"rename {name}", "FAILED", report)
            self.notifier.error("device_score.rename", {
                **report, "message": f"{name} ({'sent' if status == 'SENT' else 'not sent'}) "
                                     f"could not be renamed {new}: {report['message']}"})
            return status == "SENT"
        self.event(f"rename {name}", "OK", {"to": new})
        if status != "SENT":
            self.ledger.finish_claim(self.claim_source, key, self.owner, status)
        return True

    def result(self) -> dict[str, Any]:
        return {"source": self.source, "location": self.location, "prefix": self.prefix,
                "sent": list(self.sent), "notSent": list(self.not_sent),
                "skipped": list(self.skipped), "waiting": list(self.waiting),
                "renameErrors": list(self.warnings),
                "counts": mapping.summary(self.sent, [f["file"] for f in self.not_sent],
                                          [s["file"] for s in self.skipped])}


def _report(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, DownstreamError):
        return exc.as_dict()
    return {"target": "DACS file store", "op": None, "status": None,
            "message": f"{type(exc).__name__}: {exc}"[:500]}


def run_transfer(config: Config, ledger: Ledger, *, source: str, job_id: str,
                 derms: HttpTarget, notifier: Notifier, transport: Transport | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """One Device Score run from ``source`` ("ftp" or "os"); returns the run's result.

    The plain function behind the task: it takes its parts as arguments (``transport`` defaults
    to the configured one for ``source``). Errors before any file is handled (configuration, a
    refused host key, a listing that keeps failing) propagate; a failure on one file is recorded
    in the result and the run goes on.
    """
    location, where = source_location(config, source)
    own = transport is None
    if transport is None:
        transport = transport_for(config, **where)
    try:
        run_ = _Run(config, ledger, source, job_id, transport, derms, notifier, location,
                    clock=clock, sleep=sleep)
        return run_.execute()
    finally:
        if own:
            transport.close()


def start_scheduled_run(source: str | None) -> str:
    """Record a job for a run Beat asked for, and queue the run with it (see :func:`run`)."""
    config = runtime.get().config
    source = source or config["dacs.file.target.transfer.pref"]
    job_id = f"device-score-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    runtime.get().ledger.create_job(job_id, FLOW, client="beat", input={
        "source": source, "trigger": "schedule"})
    run.apply_async(kwargs={"source": source, "job_id": job_id}, task_id=job_id)
    return job_id


@celery_app.task(bind=True, base=HubTask, name="device_score.run", flow=FLOW,
                 retry_on=(), fail_on=(DownstreamError, TransportError, ConfigError,
                                       UnsafeNameError),
                 completes_job=False)
def run(self: HubTask, source: str | None = None, job_id: str | None = None) -> dict[str, Any]:
    """A Device Score run. Beat sends it without a job: it then records one and queues itself
    with it, so every run, scheduled or on demand, is a job in the ledger."""
    if job_id is None:
        return {"jobId": start_scheduled_run(source)}
    rt = runtime.get()
    source = source or rt.config["dacs.file.target.transfer.pref"]
    result = run_transfer(rt.config, rt.ledger, source=source, job_id=job_id, derms=rt.derms,
                          notifier=QueuedNotifier(job_id))
    errors = [{"target": "DERMS" if f["step"] == "post" else "DACS file store",
               "step": f"device_score.{f['step']}", "file": f["file"], "status": f["status"],
               "message": f["error"]} for f in result["notSent"]]
    rt.ledger.set_job(job_id, status=JobStatus.FAILED if errors else JobStatus.SUCCEEDED,
                      result=result, errors=errors)
    return result

