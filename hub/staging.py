"""Staged files: where an accepted upload waits until the workers have read it.

``staging.url`` is a local folder (one host, or a shared mount) or ``s3://bucket/prefix`` (an
S3-compatible object store, when workers run on several hosts). Both are the hub's transports
(:mod:`hub.transports`) plus one operation the file flows need: :meth:`open_range`, a streaming
read of bytes ``[start, end)``, so a segment reads only its own part of the file.

Keys are made by the hub (:func:`new_key`, a random UUID); the name a client gave its upload is
kept as data in the job, never used as a path. ``put`` is durable before it returns: the local
store writes a temporary file, fsyncs it, renames it into place and fsyncs the directory; an S3
object exists whole or not at all once the upload call returns. A failed ``put`` leaves nothing.
"""

from __future__ import annotations

import functools
import io
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from hub.config import Config
from hub.transports.base import Entry, TransportNotFound, reader
from hub.transports.local import LocalTransport

__all__ = ["Staging", "LocalStaging", "delete_quietly", "new_key", "open_staging",
           "staging_from_url"]


def new_key(suffix: str = ".csv") -> str:
    """A fresh staging key. Never derived from anything a client sent."""
    return f"{uuid.uuid4().hex}{suffix}"


class Staging(Protocol):
    """What the file flows need from the staging store (a transport plus ranged reads)."""

    display: str

    def put(self, name: str, fileobj: BinaryIO) -> int: ...

    def open(self, name: str) -> AbstractContextManager[BinaryIO]: ...

    def open_range(self, name: str, start: int, end: int) -> AbstractContextManager[BinaryIO]:
        """A stream of bytes ``[start, end)`` of ``name``."""
        ...

    def delete(self, name: str) -> None: ...

    def list(self, prefix: str = "") -> list[Entry]: ...

    def close(self) -> None: ...


class LocalStaging(LocalTransport):
    """Staged files in a local (or mounted) folder."""

    @contextmanager
    def open_range(self, name: str, start: int, end: int) -> Iterator[BinaryIO]:
        with self.open(name) as handle:
            handle.seek(start)
            yield handle  # readers stop at ``end`` themselves (see mappings.csvfiles)


@functools.cache
def _s3_class() -> type:
    """S3 staging, built once and lazily, so boto3 is imported only by sites that stage on S3."""
    from hub.transports.s3 import S3Transport

    class S3Staging(S3Transport):  # type: ignore[misc, valid-type]
        """Staged files under a key prefix of an S3-compatible bucket."""

        @contextmanager
        def open_range(self, name: str, start: int, end: int) -> Iterator[BinaryIO]:
            if end <= start:
                yield io.BytesIO(b"")  # type: ignore[misc]
                return
            key = self._key(name)
            with self._errors("open", name):
                body = self._s3.get_object(Bucket=self.bucket, Key=key,
                                           Range=f"bytes={start}-{end - 1}")["Body"]
            stream, _ = reader(body.read, self.lib_errors,
                               lambda e: self._translate(e, "read", name))
            try:
                yield stream
            finally:
                body.close()

    return S3Staging


def staging_from_url(url: str, **s3_options: Any) -> Staging:
    """The staging store at ``url``: a folder (created if missing) or ``s3://bucket/prefix``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError("staging.url s3:// needs a bucket: s3://bucket/prefix")
        options = {k: v for k, v in s3_options.items() if v is not None}
        return _s3_class()(parts.netloc, unquote(parts.path).strip("/"),  # type: ignore[no-any-return]
                           **options)
    if scheme == "file":
        return LocalStaging(unquote(parts.path), create=True)
    if scheme and len(scheme) > 1:
        raise ValueError(f"staging.url must be a folder or s3://bucket/prefix, not {scheme}://")
    return LocalStaging(os.path.expanduser(url), create=True)


def open_staging(config: Config) -> Staging:
    """The staging store the config names (``staging.url``, ``staging.s3.*``)."""
    return staging_from_url(
        config.staging_url, endpoint_url=config.get("staging.s3.endpoint.url"),
        region=config.get("staging.s3.region"),
        access_key_id=config.get("staging.s3.access.key.id"),
        secret_access_key=config.get("staging.s3.secret.access.key"))


def delete_quietly(staging: Staging, name: str) -> bool:
    """Delete ``name``; False when it was already gone (cleanup paths call this)."""
    try:
        staging.delete(name)
    except TransportNotFound:
        return False
    return True
