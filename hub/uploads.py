"""The front door's side of the file-transfer flows (Common FTP / OS Transfer, SP Network
Location): a multipart ``message`` + ``file`` upload, validated, then staged where every worker
can read it.

The body is decoded as it arrives (:class:`hub.multipart.MultipartReader`, shared with the
reservation / outcome file flows): the ``message`` part (at most 1 MiB) is validated with the
flow's schema and its idempotency key claimed, then the ``file`` part streams straight into the
staging store (``staging.url``) under a key the hub makes up, never under a name from the
request, and never whole in memory. A ``file`` part sent before the ``message`` is spooled to
an anonymous temporary file under ``var.dir/tmp`` until the message has been checked.

Unlike the CSV file flows, the file is not looked into: these flows move bytes, untransformed.
A refused request leaves nothing behind (the staged file is deleted, the key released), and the
task gets a reference to the staged file (``staged={"key", "bytes", "fileName"}``), never its
bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, BinaryIO

from flask import Response, request
from marshmallow import Schema

from hub import runtime
from hub.errors import ApiError
from hub.flows import Flow
from hub.intake import Intake
from hub.multipart import MultipartReader, Part, boundary_of, read_json_part
from hub.staging import delete_quietly, new_key, open_staging
from hub.transfers import open_spool
from hub.transports import TransportError

__all__ = ["accept_upload"]

log = logging.getLogger(__name__)


def _stage(stream: BinaryIO, suffix: str) -> dict[str, Any]:
    staging = open_staging(runtime.get().config)
    key = new_key(suffix)
    try:
        size = staging.put(key, stream)
    except TransportError as exc:
        raise ApiError(503, "Staging unavailable", "the file could not be stored; retry later",
                       headers={"Retry-After": "30"}) from exc
    finally:
        staging.close()
    return {"key": key, "bytes": size}


def _discard(key: str) -> None:
    staging = open_staging(runtime.get().config)
    try:
        delete_quietly(staging, key)
    except TransportError:
        # The request is refused either way; housekeeping.prune removes the orphan later.
        log.warning("could not delete a refused upload's staged file", extra={"key": key},
                    exc_info=True)
    finally:
        staging.close()


def _spool(part: Part) -> BinaryIO:
    spool = open_spool(runtime.get().config, "upload")
    while chunk := part.stream.read(256 * 1024):
        spool.write(chunk)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def accept_upload(flow: Flow, *, schema: type[Schema],
                  message_id: Callable[[dict[str, Any]], str | None] = lambda m: None,
                  allow_empty: bool = True, suffix: str = "") -> Response:
    """Take one multipart upload of a transfer flow: check, claim, stage, record, enqueue,
    answer (202, or the synchronous answer).

    ``message_id`` gives the idempotency key of a message (an ``Idempotency-Key`` header
    wins); ``allow_empty=False`` refuses an empty file with 400. The flow's task gets
    ``message`` (validated) and ``staged`` (``{"key", "bytes", "fileName"}``).
    """
    reader = MultipartReader(request.stream, boundary_of(request))
    message: dict[str, Any] | None = None
    intake: Intake | None = None
    staged: dict[str, Any] | None = None
    spool: BinaryIO | None = None
    file_name: str | None = None
    seen: set[str] = set()
    committed = False
    try:
        for part in reader.parts():
            if part.name in seen:
                raise ApiError(400, "Duplicate part", f"part {part.name} appears twice",
                               {part.name: ["must appear once"]})
            seen.add(part.name)
            if part.name == "message":
                message = read_json_part(part, schema)
                intake = Intake(flow, message_id(message))
                replay = intake.start()
                if replay is not None:
                    return replay
                if spool is not None:
                    staged = _stage(spool, suffix)
            elif part.name == "file":
                # Kept as data for the job's record; never used as a path.
                file_name = (part.filename or "")[:255] or None
                if intake is None:
                    spool = _spool(part)
                else:
                    staged = _stage(part.stream, suffix)
            else:
                raise ApiError(400, "Unknown part", f"unexpected part {part.name!r}",
                               {part.name or "body": ["unknown part; expected message and file"]})
        missing = [name for name in ("message", "file") if name not in seen]
        if missing:
            raise ApiError(400, "Missing part", f"missing part(s): {', '.join(missing)}",
                           {name: ["missing part"] for name in missing})
        assert intake is not None and message is not None and staged is not None
        if staged["bytes"] == 0 and not allow_empty:
            raise ApiError(400, "Empty file", "the file part is empty", {"file": ["empty"]})
        staged["fileName"] = file_name
        # From here the job exists and its task may run: a synchronous flow's 504 (the wait ran
        # out) must keep the staged file. Only a broker refusal (503, the key already released
        # by commit) means no worker will ever read it.
        committed = True
        try:
            return intake.commit(input={"message": message, "file": staged},
                                 task_kwargs={"message": message, "staged": staged})
        except ApiError as exc:
            if exc.status == 503:
                _discard(staged["key"])
            raise
    finally:
        if spool is not None:
            spool.close()
        if not committed:
            if staged is not None:
                _discard(staged["key"])
            if intake is not None:
                intake.abort()
