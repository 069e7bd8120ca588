"""A directory on a local (or mounted) filesystem."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, ClassVar

from hub.transports.base import (
    BaseTransport,
    Entry,
    TransientTransportError,
    TransportAuthError,
    TransportError,
    TransportNotFound,
    iter_chunks,
    temp_name,
)
from hub.transports.names import is_safe_name, safe_name

__all__ = ["LocalTransport"]

# Errors that can clear up on their own: a busy or briefly unavailable network mount.
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.EINTR, errno.ESTALE,
                     errno.EIO}


class LocalTransport(BaseTransport):
    """Files directly inside ``root``.

    ``put`` writes ``.<name>.part-<id>``, fsyncs it, renames it over the target with
    :func:`os.replace` (atomic on POSIX within one filesystem) and fsyncs the directory, so an
    accepted file survives a crash. Symbolic links are neither listed nor opened.
    """

    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (TransientTransportError,)

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False):
        self.root = Path(root).expanduser().absolute()
        self.display = f"file://{self.root}"
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._translate(exc, "create directory", "") from exc

    # -- helpers -----------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.root / safe_name(name)

    def _translate(self, exc: OSError, op: str, name: str) -> TransportError:
        what = f"{op} {name!r} in {self.display}" if name else f"{op} {self.display}"
        if isinstance(exc, FileNotFoundError):
            return TransportNotFound(f"{what}: not found")
        if isinstance(exc, PermissionError):
            return TransportAuthError(f"{what}: permission denied")
        if exc.errno in _TRANSIENT_ERRNOS:
            return TransientTransportError(f"{what}: {exc.strerror}")
        return TransportError(f"{what}: {exc.strerror or exc}")

    # -- the interface -----------------------------------------------------------------------

    def list(self, prefix: str = "") -> list[Entry]:
        if prefix:
            safe_name(prefix)
        entries = []
        try:
            with os.scandir(self.root) as it:
                for de in it:
                    if not de.name.startswith(prefix) or not is_safe_name(de.name):
                        continue
                    if not de.is_file(follow_symlinks=False):
                        continue
                    st = de.stat(follow_symlinks=False)
                    entries.append(Entry(de.name, st.st_size, st.st_mtime))
        except OSError as exc:
            raise self._translate(exc, "list", "") from exc
        return sorted(entries, key=lambda e: e.name)

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """Open ``name`` for reading (a plain buffered file object)."""
        path = self._path(name)
        try:
            # O_NOFOLLOW: a symlink planted in the directory must not expose files elsewhere.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise self._translate(exc, "open", name) from exc
        with os.fdopen(fd, "rb") as f:
            yield f

    def put(self, name: str, fileobj: BinaryIO) -> int:
        target = self._path(name)
        tmp = self.root / temp_name(name)
        total = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise self._translate(exc, "put", name) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in iter_chunks(fileobj):
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise self._translate(exc, "put", name) from exc
                    total += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            # Whatever failed (the source, the disk, a KeyboardInterrupt), leave nothing behind.
            tmp.unlink(missing_ok=True)
            raise
        self._fsync_dir()
        return total

    def _fsync_dir(self) -> None:
        # The rename is durable only once the directory entry is on disk.
        try:
            dfd = os.open(self.root, os.O_RDONLY)
        except OSError:  # e.g. some network filesystems refuse opening directories
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass  # fsync on a directory is unsupported on some filesystems; the rename stands
        finally:
            os.close(dfd)

    def rename(self, old: str, new: str) -> None:
        src, dst = self._path(old), self._path(new)
        try:
            os.replace(src, dst)
        except OSError as exc:
            raise self._translate(exc, "rename", old) from exc
        self._fsync_dir()

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            if path.is_dir() and not path.is_symlink():
                raise IsADirectoryError(errno.EISDIR, "is a directory")
            path.unlink()
        except OSError as exc:
            raise self._translate(exc, "delete", name) from exc

    def close(self) -> None:
        """Nothing to release."""
