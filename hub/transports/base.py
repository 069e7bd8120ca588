"""The transport interface: a small protocol every file backend implements, and its typed errors.

A transport is one directory (local, SFTP, FTP/FTPS) or one bucket + key prefix (S3). Names are
relative to it and are always single file names (see :mod:`hub.transports.names`). Callers work
with streams, never with whole files in memory.

Errors are translated at the edge of each implementation into the classes below, so callers
retry by class (style habit 4): :class:`TransientTransportError` is worth retrying, every other
:class:`TransportError` is not.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO, ClassVar, Protocol, Self, runtime_checkable

__all__ = [
    "CHUNK_SIZE",
    "Entry",
    "Transport",
    "BaseTransport",
    "TransportError",
    "TransientTransportError",
    "TransportNotFound",
    "TransportAuthError",
    "HostKeyError",
    "Secret",
]

#: Bytes moved per read/write call. Large enough that per-call overhead (a syscall, an SFTP
#: request round, an S3 part) disappears next to the transfer itself, small enough to keep
#: memory flat however large the file is.
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One file in a listing: its name relative to the transport root, size in bytes and
    modification time (POSIX seconds, UTC)."""

    name: str
    size: int
    mtime: float


class TransportError(Exception):
    """A file operation failed. Not worth retrying unless it is a :class:`TransientTransportError`.

    Messages name the operation, the transport (without credentials) and the file, never a
    password or key.
    """

    transient: ClassVar[bool] = False


class TransientTransportError(TransportError):
    """The connection dropped, timed out, or the server refused for now: retry later."""

    transient: ClassVar[bool] = True


class TransportNotFound(TransportError, FileNotFoundError):
    """The file (or directory / bucket) does not exist. Also a :class:`FileNotFoundError`."""

    def __str__(self) -> str:
        # FileNotFoundError(msg) would otherwise render via OSError's (errno, strerror) logic.
        return str(self.args[0]) if self.args else "not found"


class TransportAuthError(TransportError):
    """Credentials or permissions were refused. Permanent: retrying cannot fix it."""


class HostKeyError(TransportAuthError):
    """The SFTP server's host key is unknown, or differs from the one in known_hosts. Permanent:
    the key must be verified out of band and added to the known_hosts file."""


@runtime_checkable
class Transport(Protocol):
    """What the hub needs from a file store. Implementations are not thread-safe: use one
    transport per task / thread. Every name goes through :func:`~hub.transports.safe_name`."""

    #: Exception classes worth retrying (kombu's ``connection_errors`` idea). Translated errors
    #: are always :class:`TransientTransportError`; raw library classes are listed too for code
    #: that catches around calls the transport does not wrap.
    transient_errors: tuple[type[BaseException], ...]

    def list(self, prefix: str = "") -> list[Entry]:
        """Files directly in the root whose name starts with ``prefix``, sorted by name.
        Sub-directories, hidden files and unsafe names are left out."""
        ...

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:
        """A streaming, read-only binary file object for ``name``."""
        ...

    def get(self, name: str, fileobj: BinaryIO) -> int:
        """Stream ``name`` into ``fileobj``; return the number of bytes written."""
        ...

    def put(self, name: str, fileobj: BinaryIO) -> int:
        """Stream ``fileobj`` (read to its end) to ``name`` atomically: readers see the old file
        or the whole new one, never a part. On failure nothing new is left. Returns bytes."""
        ...

    def rename(self, old: str, new: str) -> None:
        """Rename ``old`` to ``new``, replacing ``new`` if it exists. A missing ``old`` raises
        :class:`TransportNotFound`, which makes rename usable as a claim."""
        ...

    def delete(self, name: str) -> None:
        """Delete ``name``; a missing file raises :class:`TransportNotFound`."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...

    def __enter__(self) -> Transport: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class Secret:
    """Holds a password so that it never shows in ``repr``, ``vars`` dumps, logs or tracebacks
    with locals; :meth:`reveal` gives the value to the library that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None):
        self._value = value

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret(None)"

    __str__ = __repr__


def temp_name(name: str) -> str:
    """A hidden, unique sibling name for an upload in progress: ``.<name>.part-<id>``.

    Hidden (leading dot) so listings skip it and :func:`safe_name` refuses to address it. The
    name part is cut to 200 bytes so the whole stays under the usual 255-byte limit.
    """
    short = name.encode("utf-8")[:200].decode("utf-8", "ignore")
    return f".{short}.part-{uuid.uuid4().hex[:16]}"


def url_path(directory: str) -> str:
    """How a remote directory appears in a URL (see :mod:`hub.transports.registry`)."""
    if not directory:
        return ""
    return directory if directory.startswith("/") else f"/~/{directory}"


class BaseTransport:
    """Shared plumbing: context manager, a ``get`` built on ``open``, and a safe ``repr``."""

    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (TransientTransportError,)
    #: What the transport shows of itself in messages: scheme, user, host, port and directory,
    #: never a secret. Set by each implementation.
    display: str = "?"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - every implementation overrides it
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.display}>"

    def open(self, name: str) -> AbstractContextManager[BinaryIO]:  # pragma: no cover
        raise NotImplementedError

    def get(self, name: str, fileobj: BinaryIO) -> int:
        """Stream ``name`` into ``fileobj`` in :data:`CHUNK_SIZE` pieces; return the byte count."""
        total = 0
        with self.open(name) as src:
            while chunk := src.read(CHUNK_SIZE):
                fileobj.write(chunk)
                total += len(chunk)
        return total

    # -- error translation, for implementations over a library -------------------------------

    #: what the library (and the socket layer under it) raises; turned into typed errors
    lib_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def _translate(self, exc: BaseException, op: str, name: str) -> TransportError:
        raise NotImplementedError  # pragma: no cover

    def _on_transient(self) -> None:
        """Called as a transient error leaves :meth:`_errors` (FTP drops its connection)."""

    @contextmanager
    def _errors(self, op: str, name: str) -> Iterator[None]:
        """Run a step of ``op`` on ``name``: library errors come out as typed ones."""
        try:
            yield
        except TransportError as exc:
            if isinstance(exc, TransientTransportError):
                self._on_transient()
            raise
        except self.lib_errors as exc:
            err = self._translate(exc, op, name)
            if isinstance(err, TransientTransportError):
                self._on_transient()
            raise err from exc


class TranslatingReader(io.RawIOBase):
    """A raw, read-only stream over a library's stream, translating its errors as they happen.

    Errors surface while the *caller* reads, outside any transport method, so the translation
    must travel with the stream. Wrapped in :class:`io.BufferedReader` by :func:`reader`.
    """

    def __init__(self, read: Callable[[int], bytes],
                 library_errors: tuple[type[BaseException], ...],
                 translate: Callable[[BaseException], TransportError]):
        super().__init__()
        self._read = read
        self._errors = library_errors
        self._translate = translate
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._read(len(buffer))
        except TransportError:
            raise
        except self._errors as exc:
            raise self._translate(exc) from exc
        n = len(data)
        buffer[:n] = data
        if n == 0:
            self.eof = True
        return n


def reader(read: Callable[[int], bytes], library_errors: tuple[type[BaseException], ...],
           translate: Callable[[BaseException], TransportError]) -> tuple[BinaryIO,
                                                                           TranslatingReader]:
    """A buffered binary stream over ``read`` (plus its raw layer, to ask whether EOF was hit)."""
    raw = TranslatingReader(read, library_errors, translate)
    return io.BufferedReader(raw, buffer_size=CHUNK_SIZE), raw  # type: ignore[return-value]


def iter_chunks(fileobj: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read ``fileobj`` to its end in pieces. Errors from the *source* propagate unchanged: a
    broken source is the caller's problem, not a transport fault to retry."""
    while chunk := fileobj.read(size):
        yield chunk
