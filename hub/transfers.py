"""Shared plumbing of the file-transfer flows (Common FTP / OS Transfer, SP Network Location,
Device Score): where a file goes, in-step retries, and a multipart upload streamed from disk.

Why a streaming multipart body: ``requests`` builds a ``files=`` body in memory (it reads each
file whole, then joins the parts), so a 200 MB device-score file would cost 200 MB or more of
the worker's memory. :class:`MultipartStream` is a file-like body of known length that reads
the file in :data:`~hub.transports.CHUNK_SIZE` pieces as the socket takes them, and
:func:`streaming_target` gives an :class:`~hub.clients.HttpTarget` whose ``files=`` calls use
it, so the call keeps the client's auth, correlation header and error classification.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, TypeVar

import requests
from requests.adapters import HTTPAdapter

from hub.clients import DownstreamError, HttpTarget, TransientError
from hub.config import Config
from hub.staging import delete_quietly, open_staging
from hub.transports import CHUNK_SIZE, TransientTransportError, Transport, TransportError
from hub.transports.from_config import file_server_transport, object_store_transport

__all__ = [
    "TRANSIENT", "Destination", "MultipartStream", "ProgressWriter", "backoff", "deliver",
    "open_spool", "put_staged", "streaming_target", "transfer_error", "transport_for",
    "with_retries",
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


# -- streaming multipart ----------------------------------------------------------------------

def _quote(value: str) -> str:
    """A filename / field name for a Content-Disposition header, the way browsers write it
    (WHATWG HTML): '"' and line breaks percent-encoded, the rest raw UTF-8."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


class MultipartStream:
    """A ``multipart/form-data`` body read piece by piece from files on disk.

    ``parts`` are ``(field, filename, fileobj, content_type)``; each ``fileobj`` must be
    seekable (its size is taken with ``seek``), and is read from its current position. The
    length is known up front, so the request carries a ``Content-Length`` (some servers refuse
    chunked uploads). ``progress(bytes_sent)`` is called as file bytes are read.

    Deliberately not an ``io`` class: ``requests`` would take ``tell()`` / ``fileno()`` for the
    body's length. It sees ``read``, ``__iter__`` and ``__len__`` only.
    """

    def __init__(self, parts: list[tuple[str, str, BinaryIO, str]], *,
                 progress: Callable[[int], None] | None = None):
        self.boundary = f"hub-{uuid.uuid4().hex}"
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self._segments: list[bytes | tuple[BinaryIO, int]] = []
        self._length = 0
        for field, filename, fileobj, content_type in parts:
            head = (f"--{self.boundary}\r\n"
                    f'Content-Disposition: form-data; name="{_quote(field)}"; '
                    f'filename="{_quote(filename)}"\r\n'
                    f"Content-Type: {content_type}\r\n\r\n").encode("utf-8")
            start = fileobj.tell()
            size = fileobj.seek(0, os.SEEK_END) - start
            fileobj.seek(start)
            self._segments += [head, (fileobj, size), b"\r\n"]
            self._length += len(head) + size + 2
        tail = f"--{self.boundary}--\r\n".encode()
        self._segments.append(tail)
        self._length += len(tail)
        self._index = 0
        self._offset = 0  # within the current bytes segment, or file bytes read so far
        self._sent = 0
        self._progress = progress

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for -1); ``b""`` at the end."""
        if size is None or size < 0:
            size = self._length
        out: list[bytes] = []
        wanted = size
        while wanted > 0 and self._index < len(self._segments):
            segment = self._segments[self._index]
            if isinstance(segment, bytes):
                piece = segment[self._offset:self._offset + wanted]
                self._offset += len(piece)
                done = self._offset >= len(segment)
            else:
                fileobj, total = segment
                piece = fileobj.read(min(wanted, total - self._offset, CHUNK_SIZE))
                if not piece and self._offset < total:
                    raise OSError(f"file shrank while being sent: {self._offset} of {total} "
                                  "bytes")
                self._offset += len(piece)
                self._sent += len(piece)
                if self._progress is not None and piece:
                    self._progress(self._sent)
                done = self._offset >= total
            out.append(piece)
            wanted -= len(piece)
            if done:
                self._index += 1
                self._offset = 0
        return b"".join(out)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_SIZE):
            yield chunk


class _StreamingFilesSession(requests.Session):
    """A session whose ``files=`` requests send a :class:`MultipartStream` instead of letting
    ``requests`` build the body in memory. Every other request is unchanged."""

    progress: Callable[[int], None] | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        files = kwargs.pop("files", None)
        if files:
            parts = [(field, spec[0], spec[1], spec[2] if len(spec) > 2 else
                      "application/octet-stream") for field, spec in files.items()]
            body = MultipartStream(parts, progress=self.progress)
            kwargs["data"] = body
            kwargs["headers"] = {**(kwargs.get("headers") or {}),
                                 "Content-Type": body.content_type}
        return super().request(method, url, *args, **kwargs)


def streaming_target(target: HttpTarget, *,
                     progress: Callable[[int], None] | None = None) -> HttpTarget:
    """A copy of ``target`` (same base URL, paths, auth and token cache) whose
    ``call(op, files={field: (name, fileobj, content_type)})`` streams the files from disk.
    Close it when done (it has its own connection pool)."""
    clone = copy.copy(target)
    session = _StreamingFilesSession()
    session.progress = progress
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=2, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    clone.session = session
    return clone


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
