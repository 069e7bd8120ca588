"""A bucket + key prefix on an S3-compatible object store (boto3): AWS, OCI Object Storage's
S3 compatibility API, MinIO, Ceph.

Keys are ``<prefix>/<name>``; the "directory" is the prefix, and only keys directly under it
(no further ``/``) are files of this transport.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, ClassVar

import boto3
import boto3.exceptions
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from hub.transports.base import (
    CHUNK_SIZE,
    BaseTransport,
    Entry,
    TransientTransportError,
    TransportAuthError,
    TransportError,
    TransportNotFound,
    reader,
)
from hub.transports.names import is_safe_name, safe_name
from hub.transports.registry import oci_s3_endpoint

__all__ = ["S3Transport", "translate_s3_error"]

_LIB_ERRORS: tuple[type[BaseException], ...] = (
    botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
    boto3.exceptions.Boto3Error)

#: CopyObject copies at most 5 GiB in one request; larger objects need a multipart copy.
MAX_SINGLE_COPY = 5 * 1024**3

_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchBucket"}
_AUTH = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "ExpiredToken",
         "InvalidToken", "AllAccessDisabled", "InvalidSecurity", "AuthorizationHeaderMalformed"}
_TRANSIENT = {"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException",
              "RequestLimitExceeded", "TooManyRequestsException", "InternalError",
              "ServiceUnavailable", "503", "500"}
_TRANSIENT_BOTOCORE = (
    # ConnectionError covers EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError
    # (its SSLError subclass is caught first, as a permanent trust failure).
    botocore.exceptions.ConnectionError, botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError, botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.IncompleteReadError, botocore.exceptions.HTTPClientError)


_session_lock = threading.Lock()
_shared_session: boto3.session.Session | None = None


def _make_client(**kwargs: Any) -> Any:
    """An S3 client from one process-wide boto3 session.

    A new session re-reads botocore's service models (~0.3 s); sharing one makes a transport per
    task cheap. Sessions are not thread-safe, clients are: only creation is serialised.
    """
    global _shared_session
    with _session_lock:
        if _shared_session is None:
            _shared_session = boto3.session.Session()
        return _shared_session.client("s3", **kwargs)


def translate_s3_error(exc: BaseException, what: str) -> TransportError:
    """Map a boto3/botocore error to the transport error classes (``what`` prefixes it)."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, boto3.exceptions.S3UploadFailedError) and exc.__cause__ is not None:
        return translate_s3_error(exc.__cause__, what)
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        text = f"{what}: {code or status}: {err.get('Message', '')}".rstrip(": ")
        if code in _NOT_FOUND or status == 404:
            return TransportNotFound(text)
        if code in _AUTH or status in (401, 403):
            return TransportAuthError(text)
        if code in _TRANSIENT or status >= 500 or status == 429:
            return TransientTransportError(text)
        return TransportError(text)
    if isinstance(exc, botocore.exceptions.SSLError):
        return TransportAuthError(f"{what}: TLS certificate refused: {exc}")
    if isinstance(exc, _TRANSIENT_BOTOCORE):
        return TransientTransportError(f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, (botocore.exceptions.NoCredentialsError,
                        botocore.exceptions.PartialCredentialsError)):
        return TransportAuthError(f"{what}: {exc}")
    return TransportError(f"{what}: {type(exc).__name__}: {exc}")


class S3Transport(BaseTransport):
    """Objects directly under ``prefix`` in ``bucket``.

    ``put`` uploads straight to the final key with boto3's managed transfer (multipart above
    ``multipart_threshold``). That is already atomic in S3 and S3-compatible stores: an object
    (or a completed multipart upload) becomes visible whole or not at all, and a failed multipart
    upload is aborted. So no temporary key and no server-side copy of every upload is needed.

    ``rename`` is copy, verify, delete (S3 has no rename): see :meth:`rename`.
    """

    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (
        TransientTransportError,) + _TRANSIENT_BOTOCORE
    lib_errors = _LIB_ERRORS

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, namespace: str | None = None,
                 timeout: float = 30.0, max_attempts: int = 3, addressing_style: str = "path",
                 multipart_threshold: int = 8 * 1024 * 1024, client: Any = None):
        if not bucket:
            raise ValueError("S3 transport needs a bucket name")
        if endpoint_url is None and namespace:
            if not region:
                raise ValueError("dacs.os.region is needed to build the OCI endpoint from "
                                 "dacs.os.namespace")
            endpoint_url = oci_s3_endpoint(namespace, region)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        where = f" at {endpoint_url}" if endpoint_url else ""
        self.display = f"s3://{bucket}/{self.prefix}{where}"
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_threshold,
            # Bounds memory for non-seekable sources, which are buffered one part at a time.
            max_concurrency=4, max_io_queue=8)
        if client is None:
            config = Config(
                signature_version="s3v4",
                # OCI's compat endpoint and most self-hosted stores want path-style URLs.
                s3={"addressing_style": addressing_style},
                retries={"mode": "standard", "max_attempts": max_attempts},
                connect_timeout=timeout, read_timeout=timeout,
                # boto3 >= 1.36 adds CRC checksums by default; OCI, Ceph and older MinIO reject
                # or mis-handle them. Only send / check them when an operation requires it.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required")
            client = _make_client(
                endpoint_url=endpoint_url, region_name=region or "us-east-1",
                aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                config=config)
        self._s3 = client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._s3.close()

    # -- helpers -----------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        name = safe_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _translate(self, exc: BaseException, op: str, name: str) -> TransportError:
        what = f"{op} {name!r} on {self.display}" if name else f"{op} {self.display}"
        return translate_s3_error(exc, what)

    def _head_size(self, key: str) -> tuple[int, str]:
        head = self._s3.head_object(Bucket=self.bucket, Key=key)
        return int(head["ContentLength"]), str(head.get("ETag", ""))

    # -- the interface -----------------------------------------------------------------------

    def list(self, prefix: str = "") -> list[Entry]:
        if prefix:
            safe_name(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        entries = []
        with self._errors("list", ""):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix, Delimiter="/")
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(base):]
                    if is_safe_name(name):
                        entries.append(Entry(name, int(obj["Size"]),
                                             obj["LastModified"].timestamp()))
        return sorted(entries, key=lambda e: e.name)

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """Stream the object's body as it arrives."""
        key = self._key(name)
        with self._errors("open", name):
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        stream, _ = reader(body.read, _LIB_ERRORS, lambda e: self._translate(e, "read", name))
        try:
            yield stream
        finally:
            body.close()

    def get(self, name: str, fileobj: BinaryIO) -> int:
        key = self._key(name)
        total = 0
        with self._errors("get", name):
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    fileobj.write(chunk)
                    total += len(chunk)
            finally:
                body.close()
        return total

    def put(self, name: str, fileobj: BinaryIO) -> int:
        key = self._key(name)
        with self._errors("put", name):
            self._s3.upload_fileobj(fileobj, self.bucket, key, Config=self.transfer_config)
            size, _ = self._head_size(key)
        return size

    def rename(self, old: str, new: str) -> None:
        """Copy ``old`` to ``new``, check the copy, then delete ``old``.

        S3 has no rename. The delete is the one step that cannot be undone, so it runs only
        once ``new`` is confirmed present with the source's size: some S3-compatible stores have
        answered 200 to a copy that did not complete, and a claim (``Sent-`` / ``Error-``) must
        never lose the file. The copy is conditional on the ETag just read, so a concurrent
        overwrite of ``old`` fails the copy instead of copying a different object.
        """
        src, dst = self._key(old), self._key(new)
        with self._errors("rename", old):
            size, etag = self._head_size(src)
            if src == dst:
                return  # S3 refuses to copy an object onto itself; there is nothing to do
            source = {"Bucket": self.bucket, "Key": src}
            if size <= MAX_SINGLE_COPY:
                extra = {"CopySourceIfMatch": etag} if etag else {}
                self._s3.copy_object(CopySource=source, Bucket=self.bucket, Key=dst, **extra)
            else:
                # Managed multipart copy (UploadPartCopy), server-side: no data through us.
                self._s3.copy(source, self.bucket, dst, Config=self.transfer_config)
            copied, _ = self._head_size(dst)
            if copied != size:
                raise TransientTransportError(
                    f"rename {old!r} on {self.display}: the copy has {copied} of {size} bytes; "
                    f"the original was kept")
            self._s3.delete_object(Bucket=self.bucket, Key=src)

    def delete(self, name: str) -> None:
        key = self._key(name)
        with self._errors("delete", name):
            # DeleteObject succeeds on a missing key; the interface promises TransportNotFound.
            self._head_size(key)
            self._s3.delete_object(Bucket=self.bucket, Key=key)
