"""Streaming multipart intake for every upload flow: a JSON ``message`` part plus a ``file`` part.

Two kinds of flow use it: the CSV file flows (Event Device Reservation / Outcome,
:func:`accept_csv_upload`, which look at the file's header) and the transfer flows (Common FTP /
OS Transfer, SP Network Location, :func:`accept_upload`, which move bytes untransformed).

The request body is decoded as it arrives (werkzeug's sans-IO :class:`MultipartDecoder`): the
``message`` part is read into memory (it is small, and capped), the ``file`` part is a stream
that goes straight to the staging store. So a file of hundreds of MB is written to disk once,
by the store, and never held in memory.

The steps, each of which can refuse the request:

1. the content type must be ``multipart/form-data``; a body over ``upload.max.bytes`` is ``413``;
2. ``message`` is parsed and checked against the flow's schema (``400`` naming each field);
3. its ``messageId`` is claimed (:meth:`hub.intake.Intake.start`): a replay is answered from the
   first job and nothing is staged again;
4. for a CSV file flow, the CSV header is checked (``400`` with ``errors["file.header"]``
   naming each missing column); then the file is staged under a key the hub makes up (never a
   name from the request), durably;
5. only then is the job recorded and its first task enqueued, and ``202`` answered.

A refused request leaves nothing behind: the staged file is deleted, the key released. If the
``file`` part comes before ``message``, the file is spooled to a temporary file on disk (not in
memory) until the message has been checked, then staged.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

from flask import Request, Response, request
from marshmallow import Schema, ValidationError
from werkzeug.sansio.multipart import (
    NEED_DATA,
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    Preamble,
)

from hub import runtime
from hub.errors import ApiError, flatten_errors
from hub.flows import Flow
from hub.intake import Intake, load_message, parse_json
from hub.staging import delete_quietly, new_key, open_staging
from hub.transports.base import TransportError
from mappings.csvfiles import MAX_HEADER_BYTES, HeaderError, check_header, parse_header

__all__ = [
    "MultipartReader",
    "Part",
    "boundary_of",
    "read_json_part",
    "CsvUpload",
    "accept_upload",
    "accept_csv_upload",
    "stage_stream",
    "MAX_MESSAGE_BYTES",
]

log = logging.getLogger(__name__)

#: Bytes read from the request per step: big enough to be cheap, small enough to stay flat.
CHUNK = 256 * 1024
#: The ``message`` part is JSON metadata; anything larger is not a message.
MAX_MESSAGE_BYTES = 1024 * 1024
#: Part headers (and the decoder's look-ahead) must fit in this; guards against a part that
#: never ends its headers.
MAX_DECODER_BUFFER = 4 * CHUNK


def boundary_of(req: Request) -> bytes:
    """The multipart boundary of ``req``, or a 400 saying the content type is wrong."""
    boundary = req.mimetype_params.get("boundary")
    if req.mimetype != "multipart/form-data" or not boundary:
        raise ApiError(400, "Wrong content type",
                       f"expected multipart/form-data with a boundary, got "
                       f"{req.mimetype or 'nothing'}",
                       {"Content-Type": ["must be multipart/form-data with parts message and "
                                         "file"]})
    return boundary.encode("latin-1")


def _malformed(detail: str) -> ApiError:
    return ApiError(400, "Malformed multipart body", detail, {"body": [detail]})


class MultipartReader:
    """Pull-based reader of a multipart body: :meth:`parts` yields each part in order.

    A part's content must be read before asking for the next part; what is left unread is
    skipped.
    """

    def __init__(self, stream: BinaryIO, boundary: bytes, *, chunk_size: int = CHUNK):
        self._stream = stream
        self._decoder = MultipartDecoder(boundary, max_form_memory_size=MAX_DECODER_BUFFER)
        self._chunk_size = chunk_size
        self._eof = False

    def _next_event(self) -> Any:
        while True:
            try:
                event = self._decoder.next_event()
            except ValueError as exc:
                raise _malformed(str(exc)) from exc
            if event is not NEED_DATA:
                return event
            if self._eof:
                raise _malformed("the body ended before the closing boundary")
            chunk = self._stream.read(self._chunk_size)
            if chunk:
                self._decoder.receive_data(chunk)
            else:
                self._eof = True
                self._decoder.receive_data(None)

    def parts(self) -> Iterator[Part]:
        """Each part of the body, then a check that the body ended properly."""
        while True:
            event = self._next_event()
            if isinstance(event, Preamble):
                continue
            if isinstance(event, Epilogue):
                return
            if isinstance(event, (Field, File)):
                part = Part(self, event.name, getattr(event, "filename", None),
                            event.headers.get("Content-Type"))
                yield part
                part.skip_rest()
                continue
            raise _malformed("data outside a part")


class _PartRaw(io.RawIOBase):
    """The bytes of one part, pulled from the decoder as the caller reads."""

    def __init__(self, reader: MultipartReader):
        super().__init__()
        self._reader = reader
        self._pending = memoryview(b"")
        self.finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self.finished:
            event = self._reader._next_event()
            if not isinstance(event, Data):
                raise _malformed("a part ended without its data")
            self._pending = memoryview(event.data)
            self.finished = not event.more_data
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class Part:
    """One part: its form name, file name (if any), content type, and its bytes as a stream."""

    def __init__(self, reader: MultipartReader, name: str, filename: str | None,
                 content_type: str | None):
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self._raw = _PartRaw(reader)
        self.stream: BinaryIO = io.BufferedReader(self._raw, buffer_size=CHUNK)  # type: ignore[assignment]

    def read_all(self, limit: int) -> bytes:
        """The whole part, or a 400 if it is longer than ``limit`` bytes."""
        data = self.stream.read(limit + 1)
        if len(data) > limit:
            raise ApiError(400, "Part too large", f"part {self.name} is larger than {limit} bytes",
                           {self.name: [f"must be at most {limit} bytes"]})
        return data

    def skip_rest(self) -> None:
        while self.stream.read(CHUNK):
            pass


def read_json_part(part: Part, schema: type[Schema]) -> dict[str, Any]:
    """The ``message`` part, parsed and validated; errors name ``message.<field>``."""
    data = parse_json(part.read_all(MAX_MESSAGE_BYTES), part.name)
    try:
        return load_message(schema, data)
    except ValidationError as exc:
        raise ApiError(400, "Invalid message", "the message does not match the flow's schema",
                       flatten_errors(exc.messages, part.name)) from exc


class _Prefixed(io.RawIOBase):
    """``prefix`` then the rest of ``stream``: the header line is peeked, then replayed."""

    def __init__(self, prefix: bytes, stream: BinaryIO):
        super().__init__()
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class CsvUpload:
    """A CSV stream whose header has been checked. ``columns`` is None for an empty file (which
    is accepted: the flow answers it with a FAILURE ack, as the contract says)."""

    def __init__(self, stream: BinaryIO, required: Sequence[str]):
        first = stream.readline(MAX_HEADER_BYTES + 1)
        if len(first) > MAX_HEADER_BYTES:
            raise _header_error([f"the header line is longer than {MAX_HEADER_BYTES} bytes"])
        blank = b" \t\r\n\xef\xbb\xbf"
        self.columns: list[str] | None
        if not first.strip(blank):
            # A blank first line: fine if the whole file is blank (an empty file), else the
            # header is not where it must be.
            more = stream.read(MAX_HEADER_BYTES)
            if more.strip(blank) or stream.read(1):
                raise _header_error(["the first line must be the header: " + ",".join(required)])
            first += more
            self.columns = None
        else:
            try:
                self.columns = parse_header(first)
                check_header(self.columns, required)
            except HeaderError as exc:
                raise _header_error(exc.problems) from exc
        self.stream: BinaryIO = io.BufferedReader(_Prefixed(first, stream),  # type: ignore[assignment]
                                                  buffer_size=CHUNK)


def _header_error(problems: list[str]) -> ApiError:
    return ApiError(400, "Invalid file header", "; ".join(problems), {"file.header": problems})


def stage_stream(stream: BinaryIO, suffix: str = ".csv") -> dict[str, Any]:
    """Put ``stream`` in the staging store under a new key: ``{"key", "bytes"}``; 503 if the
    store refuses."""
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


def _spool(part: Part) -> BinaryIO:
    """A file part that came before the message: to a temporary file on disk, not memory."""
    from hub.transfers import open_spool

    spool = open_spool(runtime.get().config, "upload")
    while chunk := part.stream.read(CHUNK):
        spool.write(chunk)
    spool.seek(0)
    return spool  # type: ignore[return-value]


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


def accept_upload(flow: Flow, *, message_id: Callable[[dict[str, Any]], str | None],
                  stage: Callable[[BinaryIO], dict[str, Any]] = stage_stream,
                  allow_empty: bool = True) -> Response:
    """Take one multipart ``message`` + ``file`` upload: check, claim, stage, record, enqueue,
    answer (202, or a synchronous flow's answer).

    The ``message`` part is validated with the flow's own schema (the one its OpenAPI entry
    shows). ``message_id`` gives the idempotency key of a message (an ``Idempotency-Key`` header
    wins); ``stage`` puts the file part in the staging store (and may refuse it, with
    nothing left behind); ``allow_empty=False`` refuses an empty file with 400. The flow's first
    task gets ``message`` (validated) and ``staged`` (what ``stage`` returned, plus
    ``fileName``) as keyword arguments.
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
                message = read_json_part(part, flow.schema)
                intake = Intake(flow, message_id(message))
                replay = intake.start()
                if replay is not None:
                    return replay
                if spool is not None:
                    staged = stage(spool)
            elif part.name == "file":
                # Kept as data for the job's record; never used as a path.
                file_name = (part.filename or "")[:255] or None
                if intake is None:
                    spool = _spool(part)
                else:
                    staged = stage(part.stream)
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


def accept_csv_upload(flow: Flow, *, message_id: Callable[[dict[str, Any]], str],
                      required: Sequence[str]) -> Response:
    """A file flow's upload: as :func:`accept_upload`, with the CSV header checked (400 naming
    each missing column) before the file is staged. ``staged`` carries ``"empty": True`` for a
    file with no header at all."""

    def stage_csv(stream: BinaryIO) -> dict[str, Any]:
        upload = CsvUpload(stream, required)
        return {**stage_stream(upload.stream), "empty": upload.columns is None}

    return accept_upload(flow, message_id=message_id, stage=stage_csv)
