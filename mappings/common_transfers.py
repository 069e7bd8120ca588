"""Messages of the file-transfer flows: Common FTP Transfer, Common OS Transfer, and the shared
field types (remote file names, remote directories, bucket and namespace names).

These are OIC's "OU DACS Common FTP Transfer" / "OU DACS Common OS Transfer" child flows, exposed
as multipart endpoints: a JSON ``message`` part that says where the file goes, and a ``file``
part. Nothing from a message ever becomes a local path: names are single remote file names
(:func:`hub.transports.safe_name`), directories are remote directory strings without ``.`` /
``..`` segments, and the file itself is staged under the hub's own key.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from marshmallow import ValidationError, fields, validate

from hub.transports import UnsafeNameError, safe_name
from mappings.base import InboundSchema

__all__ = [
    "FTP_FLOW", "OS_FLOW", "FileName", "RemoteDirectory", "BucketName", "NamespaceName",
    "FtpTransferSchema", "OsTransferSchema", "check_remote_directory",
]

FTP_FLOW = "common_ftp_transfer"
OS_FLOW = "common_os_transfer"

#: Longest remote directory accepted; far above any real one, low enough to bound log lines.
MAX_DIRECTORY_CHARS = 1024
# OCI bucket names: letters, digits, '-', '_' and '.', up to 256; S3's rules are a subset.
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")
# An OCI namespace is a short tenancy-wide token: letters and digits (we allow '-', '_', '.').
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _check_file_name(value: str) -> None:
    try:
        safe_name(value)
    except UnsafeNameError as exc:
        raise ValidationError(f"not a plain file name: {exc.reason}") from exc


def check_remote_directory(value: str) -> str:
    """Return ``value`` if it is an acceptable remote directory, else raise ValidationError.

    A directory on DACS's file server, absolute (``/u01/dacs/in``) or relative to the login
    directory (``in/score``). Refused: ``.`` and ``..`` segments (they could climb out of the
    area the server's account is meant to use, and a server may resolve them differently from
    us), backslashes, control characters (CR/LF would inject FTP commands), ``~`` segments,
    and absurd lengths. Repeated and trailing slashes are harmless and kept.
    """
    if not isinstance(value, str):
        raise ValidationError("must be a string")
    if len(value) > MAX_DIRECTORY_CHARS:
        raise ValidationError(f"must be at most {MAX_DIRECTORY_CHARS} characters")
    if "\\" in value:
        raise ValidationError("must not contain '\\'; use '/' between directories")
    for ch in value:
        if unicodedata.category(ch).startswith("C"):
            raise ValidationError(f"must not contain control character {ch!r}")
    if value != value.strip():
        raise ValidationError("must not start or end with whitespace")
    for segment in value.split("/"):
        if segment in (".", ".."):
            raise ValidationError(f"must not contain a {segment!r} segment")
        if segment.startswith("~"):
            raise ValidationError("must not contain '~' segments (home directory expansion)")
    return value


class FileName(fields.String):
    """A single remote file name (no directory part), checked by :func:`safe_name`."""

    def __init__(self, **kwargs: Any):
        super().__init__(required=kwargs.pop("required", True),
                         validate=[validate.Length(min=1), _check_file_name], **kwargs)


class RemoteDirectory(fields.String):
    """A remote directory string (see :func:`check_remote_directory`). Empty means the login
    directory (or the path of ``dacs.ftp.url``)."""

    def __init__(self, **kwargs: Any):
        super().__init__(required=kwargs.pop("required", True),
                         validate=check_remote_directory, **kwargs)


class BucketName(fields.String):
    def __init__(self, **kwargs: Any):
        super().__init__(required=kwargs.pop("required", True), validate=validate.Regexp(
            _BUCKET_RE, error="must be 1-256 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit"), **kwargs)


class NamespaceName(fields.String):
    def __init__(self, **kwargs: Any):
        super().__init__(required=kwargs.pop("required", True), validate=validate.Regexp(
            _NAMESPACE_RE, error="must be 1-128 letters, digits, '.', '_' or '-', "
                                 "starting with a letter or digit"), **kwargs)


class FtpTransferSchema(InboundSchema):
    """Common FTP Transfer ``message``: ``{"directory", "fileName"}``."""

    directory = RemoteDirectory()
    fileName = FileName()


class OsTransferSchema(InboundSchema):
    """Common OS Transfer ``message``: ``{"namespace", "bucket", "objectName"}``.

    ``namespace`` is the OCI Object Storage namespace; with ``dacs.os.endpoint.url`` set (any
    other S3-compatible store) it is recorded but does not change the endpoint.
    """

    namespace = NamespaceName()
    bucket = BucketName()
    objectName = FileName()
