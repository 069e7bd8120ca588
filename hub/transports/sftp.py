"""A directory on an SFTP server (paramiko), with strict host key checking.

Host keys come only from the configured known_hosts file (``dacs.ftp.known.hosts.file``), and an
unknown or changed key is refused (:class:`HostKeyError`) before any credential is sent or any
byte moves. There is no "trust on first use": see docs/transports.md for adding a key.
"""

from __future__ import annotations

import errno
import os
import posixpath
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, ClassVar

import paramiko

from hub.transports.base import (
    CHUNK_SIZE,
    BaseTransport,
    Entry,
    HostKeyError,
    Secret,
    TransientTransportError,
    TransportAuthError,
    TransportError,
    TransportNotFound,
    iter_chunks,
    reader,
    temp_name,
    url_path,
)
from hub.transports.names import is_safe_name, safe_name

__all__ = ["SFTPTransport"]

# Everything paramiko and the socket layer raise; translated by SFTPTransport._translate.
_LIB_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, paramiko.SSHException)


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class _RejectUnknownHost(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, raising our typed error with what an operator needs to act."""

    def __init__(self, known_hosts_file: str):
        self.known_hosts_file = known_hosts_file

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"SFTP host {hostname} is not in known_hosts file {self.known_hosts_file}; it "
            f"offered {_fingerprint(key)}. Verify that fingerprint with the server's owner, "
            f"then add the key (docs/transports.md). Nothing was sent.")


class SFTPTransport(BaseTransport):
    """Files directly inside ``directory`` on an SFTP server.

    ``directory`` is absolute when it starts with ``/``, else relative to the login directory
    (``""`` is the login directory itself). The SSH connection is opened on first use and
    re-opened on the next call after it dropped.

    Downloads use paramiko's prefetch (many 32 KiB reads in flight), uploads use pipelined
    writes, so throughput is bound by the link, not by round trips. ``put`` writes
    ``.<name>.part-<id>``, checks its size, then ``posix-rename@openssh.com`` over the target
    (atomic on the server's filesystem); servers without that extension get a plain rename.
    """

    lib_errors = _LIB_ERRORS

    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (
        TransientTransportError, TimeoutError, ConnectionError, EOFError)

    def __init__(self, host: str, *, port: int = 22, username: str | None = None,
                 directory: str = "", password: str | None = None,
                 private_key_file: str | None = None,
                 known_hosts_file: str = "~/.ssh/known_hosts", timeout: float = 30.0):
        self.host = host
        self.port = int(port)
        self.username = username
        self.directory = directory.rstrip("/") if directory not in ("", "/") else directory
        self.known_hosts_file = os.path.expanduser(known_hosts_file)
        self.private_key_file = (os.path.expanduser(private_key_file)
                                 if private_key_file else None)
        self.timeout = float(timeout)
        self._password = Secret(password)
        user = f"{username}@" if username else ""
        self.display = f"sftp://{user}{host}:{self.port}{url_path(self.directory)}"
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # -- connection --------------------------------------------------------------------------

    def _alive(self) -> bool:
        t = self._client.get_transport() if self._client is not None else None
        return t is not None and t.is_active()

    def _session(self) -> paramiko.SFTPClient:
        if self._sftp is not None and self._alive():
            return self._sftp
        self._disconnect()
        self._connect()
        assert self._sftp is not None
        return self._sftp

    def _connect(self) -> None:
        client = paramiko.SSHClient()
        try:
            # Only this file is trusted: not ~/.ssh/known_hosts implicitly, not the system file.
            client.load_host_keys(self.known_hosts_file)
        except FileNotFoundError:
            raise HostKeyError(
                f"known_hosts file {self.known_hosts_file} does not exist, so no SFTP host key "
                f"is trusted ({self.display}); see docs/transports.md") from None
        except (OSError, paramiko.SSHException) as exc:
            raise HostKeyError(
                f"cannot read known_hosts file {self.known_hosts_file}: {exc}") from exc
        client.set_missing_host_key_policy(_RejectUnknownHost(self.known_hosts_file))
        pkey = self._load_key()
        try:
            client.connect(
                self.host, port=self.port, username=self.username,
                password=self._password.reveal(), pkey=pkey, timeout=self.timeout,
                banner_timeout=self.timeout, auth_timeout=self.timeout,
                channel_timeout=self.timeout,
                # Deterministic credentials: only what config names, never an agent or
                # whatever keys happen to sit in ~/.ssh.
                allow_agent=False, look_for_keys=False)
            transport = client.get_transport()
            assert transport is not None
            # Keepalives stop idle NAT/firewall timeouts from silently killing a long session.
            transport.set_keepalive(30)
            sftp = client.open_sftp()
            # Bounds every read from the server, so a stalled server is a timeout, not a hang.
            sftp.get_channel().settimeout(self.timeout)  # type: ignore[union-attr]
        except BaseException as exc:
            client.close()
            if isinstance(exc, TransportError):
                raise
            if isinstance(exc, _LIB_ERRORS):
                raise self._translate(exc, "connect to", "") from exc
            raise
        self._client, self._sftp = client, sftp

    def _load_key(self) -> paramiko.PKey | None:
        """Load the private key up front, so a bad key file is a clear, permanent error rather
        than one of paramiko's generic SSHExceptions mid-connect. Like paramiko, the password
        doubles as the passphrase of an encrypted key."""
        if not self.private_key_file:
            return None
        try:
            try:
                return paramiko.PKey.from_path(self.private_key_file)
            except TypeError:
                # cryptography: "Password was not given but private key is encrypted". The
                # argument is positional: paramiko 5 renamed it (passphrase -> password).
                password = self._password.reveal()
                if not password:
                    raise
                return paramiko.PKey.from_path(self.private_key_file, password.encode())
        except FileNotFoundError:
            raise TransportAuthError(
                f"private key file {self.private_key_file} not found ({self.display})") from None
        except (OSError, ValueError, TypeError, paramiko.SSHException) as exc:
            raise TransportAuthError(
                f"cannot load private key file {self.private_key_file}: "
                f"{type(exc).__name__}: {exc}") from exc

    def _disconnect(self) -> None:
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        if sftp is not None:
            try:
                sftp.close()
            except _LIB_ERRORS:
                pass  # the connection is being thrown away; it may already be dead
        if client is not None:
            client.close()

    def close(self) -> None:
        """Close the SSH connection (a later call reconnects)."""
        self._disconnect()

    # -- helpers -----------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        name = safe_name(name)
        return posixpath.join(self.directory, name) if self.directory else name

    def _translate(self, exc: BaseException, op: str, name: str) -> TransportError:
        what = f"{op} {name!r} on {self.display}" if name else f"{op} {self.display}"
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, paramiko.BadHostKeyException):
            return HostKeyError(
                f"{what}: the host key CHANGED: known_hosts file {self.known_hosts_file} has "
                f"{_fingerprint(exc.expected_key)}, the server offered "
                f"{_fingerprint(exc.key)}. This may be an attack; nothing was sent. Verify the "
                f"new key with the server's owner before replacing the old one.")
        if isinstance(exc, paramiko.AuthenticationException):
            return TransportAuthError(f"{what}: authentication failed for user "
                                      f"{self.username!r} ({type(exc).__name__})")
        if isinstance(exc, paramiko.SSHException) and op == "connect to" \
                and "authentication" in str(exc).lower():
            # e.g. "No authentication methods available": neither password nor key configured.
            return TransportAuthError(f"{what}: {exc}")
        if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
            return TransportNotFound(f"{what}: not found")
        if isinstance(exc, OSError) and exc.errno == errno.EACCES:
            return TransportAuthError(f"{what}: permission denied")
        # A dead connection makes any failure transient, whatever its class; while the
        # connection lives, only timeouts and protocol-level SSH errors are.
        if (not self._alive() or isinstance(exc, (TimeoutError, ConnectionError, EOFError,
                                                  socket.gaierror, paramiko.SSHException))):
            return TransientTransportError(f"{what}: {type(exc).__name__}: {exc}")
        return TransportError(f"{what}: {exc}")

    # -- the interface -----------------------------------------------------------------------

    def list(self, prefix: str = "") -> list[Entry]:
        if prefix:
            safe_name(prefix)
        with self._errors("list", ""):
            attrs = self._session().listdir_attr(self.directory or ".")
        entries = []
        for a in attrs:
            if not a.filename.startswith(prefix) or not is_safe_name(a.filename):
                continue
            if a.st_mode is not None and not stat.S_ISREG(a.st_mode):
                continue  # directories, symlinks, devices
            entries.append(Entry(a.filename, a.st_size or 0, float(a.st_mtime or 0)))
        return sorted(entries, key=lambda e: e.name)

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """Stream ``name``; reads are prefetched so the link stays full."""
        path = self._path(name)
        with self._errors("open", name):
            f = self._session().open(path, "rb")
            try:
                size = f.stat().st_size or 0
                f.prefetch(size)
            except BaseException:
                f.close()
                raise
        got = 0

        def read(n: int) -> bytes:
            nonlocal got
            data = f.read(n)
            got += len(data)
            return data

        stream, raw = reader(read, _LIB_ERRORS, lambda e: self._translate(e, "read", name))
        try:
            yield stream
        except BaseException:
            # The connection may be broken, and the server may still be sending prefetched
            # blocks we would have to drain first: start over with a fresh connection instead.
            self._disconnect()
            raise
        if raw.eof or got >= size:
            with self._errors("read", name):
                f.close()
        else:
            # Closing a half-read prefetched file means reading every block already requested
            # (up to the whole file); dropping the connection is cheaper, the next call
            # reconnects.
            self._disconnect()

    def put(self, name: str, fileobj: BinaryIO) -> int:
        path = self._path(name)
        tmp = posixpath.join(self.directory, temp_name(name)) if self.directory \
            else temp_name(name)
        sftp = None
        with self._errors("put", name):
            sftp = self._session()
            # "wx": exclusive create, so two uploads can never share a temporary file.
            f = sftp.open(tmp, "wxb", bufsize=CHUNK_SIZE)
            f.set_pipelined(True)
        total = 0
        try:
            for chunk in iter_chunks(fileobj):
                with self._errors("put", name):
                    f.write(chunk)
                total += len(chunk)
            with self._errors("put", name):
                f.close()  # waits for every pipelined write to be acknowledged
                written = sftp.stat(tmp).st_size
                if written != total:
                    raise TransientTransportError(
                        f"put {name!r} on {self.display}: server has {written} of {total} bytes")
                self._replace(sftp, tmp, path)
        except BaseException:
            self._discard(sftp, f, tmp)
            raise
        return total

    def _discard(self, sftp: paramiko.SFTPClient, f: Any, tmp: str) -> None:
        """Best-effort removal of a failed upload's temporary file. If the connection is gone
        it stays behind, hidden (dot name) from listings and from every name-based call."""
        try:
            f.close()
        except _LIB_ERRORS:
            pass  # a failed pipelined write re-raises here; the original error is what counts
        if self._alive():
            try:
                sftp.remove(tmp)
            except _LIB_ERRORS:
                pass  # already gone, or the server refuses: the original error is what counts

    def _replace(self, sftp: paramiko.SFTPClient, src: str, dst: str) -> None:
        try:
            sftp.posix_rename(src, dst)
            return
        except OSError as exc:
            if exc.errno is not None:  # ENOENT / EACCES: a real answer, not "unsupported"
                raise
        # Server without posix-rename@openssh.com (SFTP v3 rename refuses an existing target):
        # plain rename, removing the target first if needed. Not atomic for an existing target
        # (it is briefly absent), but a reader still never sees a partial file.
        try:
            sftp.rename(src, dst)
        except OSError as exc:
            if exc.errno is not None:
                raise
            sftp.remove(dst)
            sftp.rename(src, dst)

    def rename(self, old: str, new: str) -> None:
        src, dst = self._path(old), self._path(new)
        with self._errors("rename", old):
            self._replace(self._session(), src, dst)

    def delete(self, name: str) -> None:
        path = self._path(name)
        with self._errors("delete", name):
            self._session().remove(path)
