"""Shared plumbing of the file-transfer flows (Common FTP / OS Transfer, SP Network Location,
Device Score): where a file goes, in-step retries, progress, staged uploads.

A file posted to DERMS streams from disk: :meth:`hub.clients.HttpTarget.call` sends ``files=``
as a :class:`~hub.clients.MultipartStream`, never a body built in memory.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, TypeVar

from hub.clients import DownstreamError, TransientError
from hub.config import Config
from hub.staging import delete_quietly, open_staging
from hub.transports import TransientTransportError, Transport, TransportError
from hub.transports.from_config import file_server_transport, object_store_transport

__all__ = [
    "TRANSIENT", "Destination", "ProgressWriter", "backoff", "deliver", "open_spool",
    "put_staged", "transfer_error", "transport_for", "with_retries",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What a transfer step retries: a dropped or refused connection to the file server or object
#: store, and a 5xx / 429 / timeout from DERMS.
TRANSIENT: tuple[type[BaseException], ...] = (TransientTransportError, TransientError)


# -- where files go / come from ---------------------------------------------------------------

@dataclass(frozen=True)
class Destination:
    """Where a transfer puts its file: ``kind`` "ftp" (``directory`` on ``dacs.ftp.url``) or
    "os" (``bucket``, with ``namespace``), under the remote file name ``name``."""

    kind: str
    name: str
    directory: str | None = None
    bucket: str | None = None
    namespace: str | None = None

    def describe(self) -> str:
        """For emails and job results: where the file went, without any credential."""
        if self.kind == "os":
            where = f"bucket {self.bucket}" + (f" (namespace {self.namespace})"
                                               if self.namespace else "")
        else:
            where = f"directory {self.directory or '(login directory)'}"
        return f"{self.name} in {where}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


def transport_for(config: Config, kind: str, *, directory: str | None = None,
                  bucket: str | None = None, namespace: str | None = None) -> Transport:
    """The DACS-side transport of a transfer: ``kind`` "ftp" is ``dacs.ftp.url`` at
    ``directory``; "os" is ``bucket`` on the object store (``namespace`` picks the OCI
    endpoint when ``dacs.os.endpoint.url`` is not set)."""
    timeout = float(config["http.timeout.seconds"])
    if kind == "os":
        if not bucket:
            raise ValueError("an object-storage transfer needs a bucket")
        return object_store_transport(config, bucket, namespace=namespace, timeout=timeout)
    if kind == "ftp":
        return file_server_transport(config, directory or None, timeout=timeout)
    raise ValueError(f"unknown transfer kind {kind!r}; expected ftp or os")


# -- retries inside a step --------------------------------------------------------------------

def backoff(config: Config, attempt: int) -> float:
    """Delay before retry number ``attempt`` (0-based): the task base class's policy, capped
    exponential with 50-100 % jitter."""
    base = config["http.retry.backoff.seconds"] * (2 ** attempt)
    return min(config["http.retry.backoff.max.seconds"], base) * (0.5 + random.random() / 2)


def with_retries(config: Config, what: str, fn: Callable[[], T], *,
                 retry_on: tuple[type[BaseException], ...] = TRANSIENT,
                 on_retry: Callable[[int, BaseException], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn``; on a ``retry_on`` error run it again, up to ``http.retry.max`` more times.

    For steps that must not be retried as a whole task: a Device Score run handles many files,
    and a failure on one must not send the others again. A 429's ``Retry-After`` is honoured.
    The last error propagates.
    """
    limit = int(config["http.retry.max"])
    attempt = 0
    while True:
        try:
            return fn()
        except retry_on as exc:
            if attempt >= limit:
                raise
            delay = getattr(exc, "retry_after", None)
            if delay is None:
                delay = backoff(config, attempt)
            log.warning("transient error, retrying", extra={
                "step": what, "attempt": attempt + 1, "countdown": round(delay, 2),
                "error": str(exc)[:300]})
            if on_retry is not None:
                on_retry(attempt + 1, exc)
            sleep(delay)
            attempt += 1


# -- progress ---------------------------------------------------------------------------------

class ProgressWriter:
    """A binary file wrapper that calls ``tick(bytes_so_far)`` after each write: how a long
    download renews its file claim."""

    def __init__(self, target: BinaryIO, tick: Callable[[int], None]):
        self._target = target
        self._tick = tick
        self.written = 0

    def write(self, data: bytes) -> int:
        n = self._target.write(data)
        self.written += len(data)
        self._tick(self.written)
        return n

    def flush(self) -> None:
        self._target.flush()


def open_spool(config: Config, purpose: str) -> IO[bytes]:
    """A temporary file under ``var.dir/tmp`` (not /tmp, which is often a small RAM disk),
    deleted when closed."""
    import tempfile

    directory = config.var_dir / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(prefix=f"{purpose}-", dir=directory)


# -- staged uploads ---------------------------------------------------------------------------

def transfer_error(exc: TransportError, kind: str, op: str) -> DownstreamError:
    """A transport error as the client error class the task base class knows, so a transfer
    step is retried, dead-lettered and reported exactly like an HTTP step, and the door's 502
    fault names the file store ("DACS FTP call failed: ...")."""
    target = "dacs os" if kind == "os" else "dacs ftp"
    if isinstance(exc, TransientTransportError):
        return TransientError(target, op, None, str(exc)[:500])
    return DownstreamError(target, op, None, str(exc)[:500])


def deliver(config: Config, destination: Destination, staged_key: str) -> int:
    """Stream the staged file ``staged_key`` to ``destination`` (an atomic put); return its
    size. Errors of the destination come out as :class:`~hub.clients.TransientError` (worth
    retrying) or :class:`~hub.clients.DownstreamError`; a staged file that cannot be opened is
    the hub's own :class:`~hub.transports.TransportError`, unchanged."""
    staging = open_staging(config)
    try:
        with staging.open(staged_key) as source:
            try:
                with transport_for(config, destination.kind, directory=destination.directory,
                                   bucket=destination.bucket,
                                   namespace=destination.namespace) as target:
                    return target.put(destination.name, source)
            except TransportError as exc:
                raise transfer_error(exc, destination.kind, "put") from exc
    finally:
        staging.close()


def put_staged(config: Config, ledger: Any, job_id: str, destination: Destination,
               staged: dict[str, Any]) -> int:
    """The step behind every "put a staged file somewhere" task: deliver the staged file
    (``staged["key"]``), put the call on the job's timeline, and remove the staged copy once it
    is safely at its destination (a failed delivery keeps it, for ``hub failed requeue``).

    A task re-delivered after it delivered (its worker died before the broker got the ack)
    finds the delivery on the job's timeline and does not put the file again.
    """
    name = f"dacs {destination.kind}.put"
    for event in ledger.job_events(job_id):
        if event["kind"] == "call" and event["name"] == name and event["status"] == "OK":
            _discard(config, staged["key"])
            return int((event.get("detail") or {}).get("bytes") or 0)
    size = deliver(config, destination, staged["key"])
    ledger.add_event(job_id, "call", name, "OK", {"to": destination.describe(), "bytes": size})
    _discard(config, staged["key"])
    return size


def _discard(config: Config, key: str) -> None:
    staging = open_staging(config)
    try:
        delete_quietly(staging, key)
    finally:
        staging.close()
