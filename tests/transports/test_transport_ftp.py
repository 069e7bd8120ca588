"""FTP and FTPS specifics, against pyftpdlib: login, TLS trust, old servers, broken transfers."""

from __future__ import annotations

import io
import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from transports.transport_servers import FTP_PASSWORD, FTP_USER, FtpServer

from hub.transports import (
    CHUNK_SIZE,
    TransientTransportError,
    TransportAuthError,
    TransportNotFound,
    open_transport,
)

MiB = 1024 * 1024


@pytest.fixture
def sub(ftp_root: Path) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    (ftp_root / name).mkdir()
    return name


def url(kind: str, server: FtpServer, sub: str) -> str:
    return f"{kind}://{FTP_USER}@127.0.0.1:{server.port}/{sub}"


def test_a_wrong_password_is_an_auth_error(ftp_server: FtpServer, sub: str) -> None:
    with open_transport(url("ftp", ftp_server, sub), password="wrong", timeout=5) as t:
        with pytest.raises(TransportAuthError) as info:
            t.list()
    assert not info.value.transient
    assert "530" in str(info.value)


def test_a_missing_directory_is_not_found(ftp_server: FtpServer) -> None:
    with open_transport(url("ftp", ftp_server, "no-such-dir"), password=FTP_PASSWORD,
                        timeout=5) as t:
        with pytest.raises(TransportNotFound):
            t.list()


def test_listing_falls_back_to_nlst_size_mdtm(ftp_server_without_mlsd: FtpServer,
                                              ftp_root: Path, sub: str) -> None:
    folder = ftp_root / sub
    (folder / "Score-1.csv").write_bytes(b"x" * 123)
    (folder / "Score-2.csv").write_bytes(b"")
    (folder / "Score-dir").mkdir()
    (folder / ".Score-hidden").write_bytes(b"h")
    before = time.time()
    with open_transport(url("ftp", ftp_server_without_mlsd, sub), password=FTP_PASSWORD,
                        timeout=5) as t:
        entries = t.list("Score-")
        assert [(e.name, e.size) for e in entries] == [("Score-1.csv", 123), ("Score-2.csv", 0)]
        assert all(before - 5 <= e.mtime <= time.time() + 5 for e in entries)
        # And the connection is left in binary mode for what follows.
        out = io.BytesIO()
        assert t.get("Score-1.csv", out) == 123


def test_ftps_refuses_an_untrusted_certificate(ftps_server: FtpServer, sub: str) -> None:
    # No ca_file: the self-signed test certificate is not in the system CAs.
    with open_transport(url("ftps", ftps_server, sub), password=FTP_PASSWORD, timeout=5) as t:
        with pytest.raises(TransportAuthError, match="certificate"):
            t.list()


def test_plain_ftp_to_a_tls_only_server_is_refused_before_the_password(
        ftps_server: FtpServer, sub: str) -> None:
    with open_transport(url("ftp", ftps_server, sub), password=FTP_PASSWORD, timeout=5) as t:
        with pytest.raises(TransportAuthError, match="TLS"):
            t.list()


def test_ftps_round_trip_uses_protected_data_connections(ftps_server: FtpServer, sub: str,
                                                         ftps_cert: dict[str, Path]) -> None:
    with open_transport(url("ftps", ftps_server, sub), password=FTP_PASSWORD,
                        ca_file=str(ftps_cert["ca"]), timeout=5) as t:
        t.put("s.csv", io.BytesIO(b"over tls"))
        ftp: Any = t._session()  # the live ftplib connection: check what was negotiated
        assert ftp._prot_p and ftp.sock.version().startswith("TLS")
        out = io.BytesIO()
        t.get("s.csv", out)
        assert out.getvalue() == b"over tls"


def test_a_transfer_cut_short_is_transient_not_a_short_file(ftp_root: Path, sub: str) -> None:
    server = FtpServer(ftp_root)  # a private server: this test shuts it down mid-transfer
    data = random.Random(2).randbytes(48 * MiB)
    (ftp_root / sub / "big.bin").write_bytes(data)
    try:
        with open_transport(url("ftp", server, sub), password=FTP_PASSWORD, timeout=5) as t:
            got = bytearray()
            with pytest.raises(TransientTransportError):
                with t.open("big.bin") as f:
                    got += f.read(MiB)
                    server.stop()  # closes every connection, data and control
                    while chunk := f.read(CHUNK_SIZE):
                        got += chunk
            assert len(got) < len(data) and bytes(got) == data[:len(got)]
    finally:
        server.stop()
