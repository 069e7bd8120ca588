"""Build the DACS-side transports from the hub's config (the contract's ``dacs.ftp.*`` and
``dacs.os.*`` properties), passing each scheme only the options it understands."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hub.config import Config, ConfigError
from hub.transports.base import Transport
from hub.transports.registry import open_transport

__all__ = ["file_server_transport", "object_store_transport"]


def file_server_transport(config: Config, directory: str | None = None, *,
                          timeout: float = 30.0) -> Transport:
    """The DACS file server (``dacs.ftp.url``: SFTP, FTP or FTPS) at ``directory``, e.g.
    ``dacs.dvcScore.ftp.input.directory``; a relative directory is under the URL's path."""
    url = config.get("dacs.ftp.url")
    if not url:
        raise ConfigError({"dacs.ftp.url": "needed for the ftp transfer preference"})
    options: dict[str, Any] = {"directory": directory, "timeout": timeout,
                               "password": config.get("dacs.ftp.password")}
    if urlsplit(url).scheme.lower() == "sftp":
        options["private_key_file"] = config.get("dacs.ftp.private.key.file")
        options["known_hosts_file"] = config.get("dacs.ftp.known.hosts.file")
    return open_transport(url, **options)


def object_store_transport(config: Config, bucket: str, prefix: str = "", *,
                           namespace: str | None = None, timeout: float = 30.0) -> Transport:
    """The DACS object store (S3 compatibility API) bucket ``bucket``, e.g.
    ``dacs.os.dvcScore.bucketname``. The endpoint is ``dacs.os.endpoint.url``, else the OCI
    endpoint built from ``namespace`` (default ``dacs.os.namespace``) and ``dacs.os.region``."""
    if not bucket:
        raise ValueError("object_store_transport needs a bucket name")
    endpoint = config.get("dacs.os.endpoint.url")
    namespace = namespace or config.get("dacs.os.namespace")
    region = config.get("dacs.os.region")
    if not endpoint and not (namespace and region):
        raise ConfigError({"dacs.os.endpoint.url": "set it, or set dacs.os.namespace and "
                                                   "dacs.os.region for OCI Object Storage"})
    return open_transport(
        f"s3://{bucket}/{prefix.strip('/')}", endpoint_url=endpoint, namespace=namespace,
        region=region, access_key_id=config.get("dacs.os.access.key.id"),
        secret_access_key=config.get("dacs.os.secret.access.key"), timeout=timeout)
