"""Pick a transport from a URL, importing its library only when that scheme is used.

==========================  =====================  =========================================
URL                         class                  library
==========================  =====================  =========================================
``/abs/dir``, ``rel/dir``   LocalTransport         (stdlib)
``file:///abs/dir``         LocalTransport         (stdlib)
``sftp://user@host:port/d`` SFTPTransport          paramiko
``ftp://user@host:port/d``  FTPTransport           (stdlib ftplib)
``ftps://user@host:port/d`` FTPTransport(tls=True) (stdlib ftplib + ssl)
``s3://bucket/prefix``      S3Transport            boto3
==========================  =====================  =========================================

Remote paths: ``/d`` is absolute, ``/~/d`` is relative to the login directory, no path means
the login directory. A ``directory`` option is joined to the URL's path (an absolute one
replaces it), so ``dacs.ftp.url`` plus ``dacs.dvcScore.ftp.input.directory`` combine naturally.
Passwords never go in the URL (it is logged and shown); they are options.
"""

from __future__ import annotations

import importlib
import posixpath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from hub.transports.base import Transport

__all__ = ["open_transport", "oci_s3_endpoint", "SCHEMES"]

#: scheme -> (module, class, top-level modules it needs, pip package to install).
SCHEMES: dict[str, tuple[str, str, frozenset[str], str | None]] = {
    "file": ("hub.transports.local", "LocalTransport", frozenset(), None),
    "sftp": ("hub.transports.sftp", "SFTPTransport",
             frozenset({"paramiko", "cryptography", "bcrypt", "nacl"}), "paramiko"),
    "ftp": ("hub.transports.ftp", "FTPTransport", frozenset(), None),
    "ftps": ("hub.transports.ftp", "FTPTransport", frozenset(), None),
    "s3": ("hub.transports.s3", "S3Transport",
           frozenset({"boto3", "botocore", "s3transfer"}), "boto3"),
}


def oci_s3_endpoint(namespace: str, region: str) -> str:
    """OCI Object Storage's S3 compatibility endpoint for a tenancy namespace and region
    (the contract's default for ``dacs.os.endpoint.url``)."""
    return f"https://{namespace}.compat.objectstorage.{region}.oraclecloud.com"


def _load(scheme: str) -> type:
    module, cls, needs, package = SCHEMES[scheme]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if package and exc.name and exc.name.split(".")[0] in needs:
            raise ImportError(
                f"{scheme}:// transports need the {package!r} package, which is not installed: "
                f"pip install {package}") from exc
        raise
    return getattr(mod, cls)  # type: ignore[no-any-return]


def _remote_directory(url_path: str, directory: str | None) -> str:
    path = unquote(url_path)
    if path in ("", "/"):
        base = ""
    elif path == "/~" or path.startswith("/~/"):
        base = path[3:]
    else:
        base = path
    if directory:
        base = posixpath.join(base, directory) if base else directory
    return posixpath.normpath(base) if base else ""


def open_transport(url: str, **options: Any) -> Transport:
    """A transport for ``url`` (see the module docs for the forms). Options go to the class:

    * local: ``create``;
    * SFTP: ``password``, ``private_key_file``, ``known_hosts_file``, ``timeout``,
      ``directory``;
    * FTP/FTPS: ``password``, ``timeout``, ``ca_file``, ``ssl_context``, ``directory``;
    * S3: ``endpoint_url``, ``region``, ``access_key_id``, ``secret_access_key``,
      ``namespace`` (builds the OCI endpoint when ``endpoint_url`` is unset), ``timeout``,
      ``max_attempts``, ``addressing_style``, ``directory``.

    Options set to ``None`` are dropped, so unset config values fall back to the defaults.
    Remote transports connect on first use, not here.
    """
    options = {k: v for k, v in options.items() if v is not None}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "" or len(scheme) == 1:  # a plain path (len 1: a Windows drive letter)
        return _load("file")(url, **options)  # type: ignore[no-any-return]
    if scheme not in SCHEMES:
        raise ValueError(f"unknown transport scheme {scheme!r}; known: "
                         f"{', '.join(sorted(SCHEMES))} or a plain path")
    if parts.password is not None:
        # Do not echo the URL: it holds the secret.
        raise ValueError(f"{scheme}:// URL must not carry a password; pass it as the password "
                         f"option (dacs.ftp.password)")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URL must be local, not on host {parts.netloc!r}")
        return _load("file")(unquote(parts.path), **options)  # type: ignore[no-any-return]
    directory = options.pop("directory", None)
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError("s3:// URL needs a bucket: s3://bucket/prefix")
        prefix = _remote_directory(parts.path, directory).strip("/")
        return _load("s3")(parts.netloc, prefix, **options)  # type: ignore[no-any-return]
    if not parts.hostname:
        raise ValueError(f"{scheme}:// URL needs a host: {scheme}://user@host:port/dir")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{scheme}:// URL has a bad port: {exc}") from None
    cls = _load(scheme)
    kwargs: dict[str, Any] = {"directory": _remote_directory(parts.path, directory)}
    if port is not None:
        kwargs["port"] = port
    if parts.username:
        kwargs["username"] = unquote(parts.username)
    if scheme == "ftps":
        kwargs["tls"] = True
    return cls(parts.hostname, **kwargs, **options)  # type: ignore[no-any-return]
