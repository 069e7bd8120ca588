"""File transports: one small interface over a local directory, SFTP, FTP/FTPS and S3.

>>> with open_transport("sftp://dacs@files.example.com:2222/outbound",
...                     private_key_file="/etc/hub/id_ed25519",
...                     known_hosts_file="/etc/hub/known_hosts") as t:   # doctest: +SKIP
...     for entry in t.list("DeviceScore"):
...         with open(entry.name + ".csv", "wb") as out:
...             t.get(entry.name, out)

Implementations are imported lazily (:func:`open_transport`), so paramiko and boto3 are only
needed by sites that use them. See docs/transports.md.
"""

from hub.transports.base import (
    CHUNK_SIZE,
    Entry,
    HostKeyError,
    TransientTransportError,
    Transport,
    TransportAuthError,
    TransportError,
    TransportNotFound,
)
from hub.transports.names import UnsafeNameError, safe_name
from hub.transports.registry import oci_s3_endpoint, open_transport

__all__ = [
    "CHUNK_SIZE",
    "Entry",
    "HostKeyError",
    "TransientTransportError",
    "Transport",
    "TransportAuthError",
    "TransportError",
    "TransportNotFound",
    "UnsafeNameError",
    "oci_s3_endpoint",
    "open_transport",
    "safe_name",
]
