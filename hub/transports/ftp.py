"""A directory on an FTP or FTPS server (stdlib :mod:`ftplib`).

FTPS is explicit TLS (``AUTH TLS`` on the normal port, RFC 4217) with protected data connections
(``PROT P``); the server certificate is verified against the system CAs or ``ca_file``.
"""

from __future__ import annotations

import builtins  # the class defines list(), which shadows the builtin in annotations
import ftplib
import posixpath
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar

from hub.transports.base import (
    BaseTransport,
    Entry,
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

__all__ = ["FTPTransport"]

_LIB_ERRORS: tuple[type[BaseException], ...] = ftplib.all_errors  # Error, OSError, EOFError, SSL
# Replies meaning "I do not know this command": fall back to an older command.
_UNSUPPORTED = ("500", "501", "502", "504")


class _ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session.

    Servers such as vsftpd (``require_ssl_reuse=YES``, its default) and FileZilla Server refuse a
    data connection that does not, as a guard against data-connection stealing; stock ftplib
    does not reuse the session.
    """

    def ntransfercmd(self, cmd: str, rest: Any = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)  # type: ignore[union-attr]
        return conn, size


def _code(exc: BaseException) -> str:
    return str(exc)[:3]


def _parse_time(value: str) -> float:
    """``YYYYMMDDHHMMSS[.sss]`` (MLSD ``modify`` and MDTM, always UTC) to POSIX seconds."""
    whole, _, frac = value.strip().partition(".")
    ts = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    return ts + (float(f"0.{frac}") if frac.isdigit() else 0.0)


class FTPTransport(BaseTransport):
    """Files directly inside ``directory`` on an FTP (``tls=False``) or FTPS server.

    ``directory`` is absolute when it starts with ``/``, else relative to the login directory.
    One control connection, opened on first use and re-opened after it dropped; one transfer at
    a time. ``put`` STORs ``.<name>.part-<id>``, checks its SIZE, then RNFR/RNTO over the target
    (servers refusing to rename onto an existing file get DELE then RNFR/RNTO).
    """

    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (
        TransientTransportError, ftplib.error_temp, TimeoutError, ConnectionError, EOFError)
    lib_errors = _LIB_ERRORS

    def __init__(self, host: str, *, port: int = 21, username: str = "anonymous",
                 directory: str = "", password: str = "", tls: bool = False,
                 timeout: float = 30.0, ca_file: str | None = None,
                 ssl_context: ssl.SSLContext | None = None):
        self.host = host
        self.port = int(port)
        self.username = username or "anonymous"
        self.directory = directory
        self.tls = tls
        self.timeout = float(timeout)
        self.ca_file = ca_file
        self.ssl_context = ssl_context
        self._password = Secret(password or "")
        scheme = "ftps" if tls else "ftp"
        self.display = f"{scheme}://{self.username}@{host}:{self.port}{url_path(directory)}"
        self._ftp: ftplib.FTP | None = None

    # -- connection --------------------------------------------------------------------------

    def _session(self) -> ftplib.FTP:
        if self._ftp is None:
            self._ftp = self._connect()
        return self._ftp

    def _connect(self) -> ftplib.FTP:
        ftp: ftplib.FTP
        if self.tls:
            ctx = self.ssl_context or ssl.create_default_context(cafile=self.ca_file)
            ftp = _ReusingFTP_TLS(context=ctx, timeout=self.timeout)
        else:
            ftp = ftplib.FTP(timeout=self.timeout)
        op = "connect to"
        try:
            ftp.connect(self.host, self.port, timeout=self.timeout)
            op = "log in to"
            ftp.login(self.username, self._password.reveal() or "")  # FTP_TLS: AUTH TLS first
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.voidcmd("TYPE I")
            if self.directory:
                op = "change to the directory of"
                ftp.cwd(self.directory)
        except _LIB_ERRORS as exc:
            ftp.close()
            raise self._translate(exc, op, "") from exc
        return ftp

    def _disconnect(self) -> None:
        ftp, self._ftp = self._ftp, None
        if ftp is not None:
            # No QUIT: the connection may be dead or mid-transfer, and close() is enough.
            ftp.close()

    def close(self) -> None:
        """Say goodbye and close the control connection (a later call reconnects)."""
        ftp = self._ftp
        if ftp is not None:
            try:
                ftp.quit()
            except _LIB_ERRORS:
                pass  # the server may already have gone; we are closing anyway
        self._disconnect()

    # -- helpers -----------------------------------------------------------------------------

    def _translate(self, exc: BaseException, op: str, name: str) -> TransportError:
        what = f"{op} {name!r} on {self.display}" if name else f"{op} {self.display}"
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, ssl.SSLCertVerificationError):
            return TransportAuthError(f"{what}: TLS certificate refused: "
                                      f"{exc.verify_message}")
        if isinstance(exc, ftplib.error_perm):
            code = _code(exc)
            if code in ("530", "532") or op == "log in to":
                # Any refusal while logging in (bad password, "TLS required", no account).
                return TransportAuthError(f"{what}: {exc}")
            if code == "550" and op != "put":
                return TransportNotFound(f"{what}: {exc}")
            return TransportError(f"{what}: {exc}")
        # 4xx replies (421 closing, 425/426 data connection, 450/451 busy), garbled replies,
        # and socket / TLS / EOF errors: the server or the link failed for now.
        return TransientTransportError(f"{what}: {type(exc).__name__}: {exc}")

    def _on_transient(self) -> None:
        # The control connection's state is unknown (a reply may be pending): drop it.
        self._disconnect()

    # -- the interface -----------------------------------------------------------------------

    def list(self, prefix: str = "") -> list[Entry]:
        if prefix:
            safe_name(prefix)
        with self._errors("list", ""):
            ftp = self._session()
            try:
                entries = self._list_mlsd(ftp, prefix)
            except ftplib.error_perm as exc:
                if _code(exc) not in _UNSUPPORTED:
                    raise
                entries = self._list_nlst(ftp, prefix)
        return sorted(entries, key=lambda e: e.name)

    def _list_mlsd(self, ftp: ftplib.FTP, prefix: str) -> builtins.list[Entry]:
        listing = list(ftp.mlsd(facts=["type", "size", "modify"]))
        ftp.voidcmd("TYPE I")  # ftplib switched to ASCII for the listing; SIZE needs binary
        entries = []
        for name, facts in listing:
            if facts.get("type", "").lower() != "file":
                continue  # dirs, cdir/pdir, OS-specific links
            if not name.startswith(prefix) or not is_safe_name(name):
                continue
            size = int(facts["size"]) if "size" in facts else (ftp.size(name) or 0)
            mtime = _parse_time(facts["modify"]) if "modify" in facts else 0.0
            entries.append(Entry(name, size, mtime))
        return entries

    def _list_nlst(self, ftp: ftplib.FTP, prefix: str) -> builtins.list[Entry]:
        try:
            names = ftp.nlst()
        except ftplib.error_perm as exc:
            # Several servers answer an empty directory with "550 No files found".
            if _code(exc) == "550":
                return []
            raise
        finally:
            ftp.voidcmd("TYPE I")  # ftplib switched to ASCII for the listing
        entries = []
        for raw in names:
            name = posixpath.basename(raw)  # some servers prefix the directory
            if not name.startswith(prefix) or not is_safe_name(name):
                continue
            try:
                size = ftp.size(name)
            except ftplib.error_perm:
                continue  # SIZE refuses directories: not a file
            try:
                mtime = _parse_time(ftp.voidcmd(f"MDTM {name}")[4:])
            except ftplib.error_perm as exc:
                if _code(exc) not in _UNSUPPORTED:
                    raise
                mtime = 0.0
            entries.append(Entry(name, size or 0, mtime))
        return entries

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        """Stream ``name`` straight from the RETR data connection."""
        safe_name(name)
        with self._errors("open", name):
            ftp = self._session()
            conn = ftp.transfercmd(f"RETR {name}")
        stream, raw = reader(conn.recv, _LIB_ERRORS,
                             lambda e: self._on_read_error(e, name))
        try:
            yield stream
        except BaseException:
            conn.close()
            # A reply for the aborted transfer is pending on the control connection: start over.
            self._disconnect()
            raise
        if not raw.eof:
            conn.close()
            self._disconnect()
            return
        with self._errors("read", name):
            try:
                if isinstance(conn, ssl.SSLSocket):
                    conn.unwrap()  # orderly TLS shutdown, as ftplib.retrbinary does
            finally:
                conn.close()
            ftp.voidresp()  # "226 Transfer complete": only now is the download known whole

    def _on_read_error(self, exc: BaseException, name: str) -> TransportError:
        self._disconnect()
        return self._translate(exc, "read", name)

    def put(self, name: str, fileobj: BinaryIO) -> int:
        safe_name(name)
        tmp = temp_name(name)
        with self._errors("put", name):
            ftp = self._session()
            conn = ftp.transfercmd(f"STOR {tmp}")
        total = 0
        reply_pending = True
        try:
            try:
                for chunk in iter_chunks(fileobj):
                    with self._errors("put", name):
                        conn.sendall(chunk)
                    total += len(chunk)
                with self._errors("put", name):
                    if isinstance(conn, ssl.SSLSocket):
                        conn.unwrap()
            finally:
                conn.close()
            with self._errors("put", name):
                reply_pending = False
                ftp.voidresp()
                self._check_size(ftp, tmp, total, name)
                self._rename(ftp, tmp, name)
        except BaseException:
            self._discard(tmp, reply_pending)
            raise
        return total

    def _check_size(self, ftp: ftplib.FTP, tmp: str, total: int, name: str) -> None:
        try:
            size = ftp.size(tmp)
        except ftplib.error_perm as exc:
            if _code(exc) in _UNSUPPORTED:
                return  # no SIZE command: the 226 reply is all we have
            raise
        if size is not None and size != total:
            raise TransientTransportError(
                f"put {name!r} on {self.display}: server has {size} of {total} bytes")

    def _discard(self, tmp: str, reply_pending: bool) -> None:
        """Best-effort removal of a failed upload's temporary file. If the connection is gone
        it stays behind, hidden (dot name) from listings and from every name-based call."""
        ftp = self._ftp
        if ftp is None:
            return
        try:
            if reply_pending:
                ftp.voidresp()  # the server's verdict on the cut-short STOR
        except ftplib.Error:
            pass  # a 4xx/5xx for the aborted upload is expected; the file may still exist
        except _LIB_ERRORS:
            self._disconnect()
            return
        try:
            ftp.delete(tmp)
        except ftplib.error_perm:
            pass  # never created, or already removed by the server
        except _LIB_ERRORS:
            self._disconnect()

    def _rename(self, ftp: ftplib.FTP, src: str, dst: str) -> None:
        try:
            ftp.rename(src, dst)
        except ftplib.error_perm as exc:
            # RNFR failing means src is missing; only an RNTO refusal can be "target exists".
            if not str(exc).startswith(("550", "553")) or not self._exists(ftp, dst) \
                    or not self._exists(ftp, src):
                raise
            # Windows-style servers refuse to rename onto an existing file. Remove it first:
            # the name is briefly absent, but never holds a partial file.
            ftp.delete(dst)
            ftp.rename(src, dst)

    @staticmethod
    def _exists(ftp: ftplib.FTP, name: str) -> bool:
        try:
            ftp.size(name)
        except ftplib.error_perm:
            return False
        return True

    def rename(self, old: str, new: str) -> None:
        safe_name(old)
        safe_name(new)
        with self._errors("rename", old):
            self._rename(self._session(), old, new)

    def delete(self, name: str) -> None:
        safe_name(name)
        with self._errors("delete", name):
            self._session().delete(name)
