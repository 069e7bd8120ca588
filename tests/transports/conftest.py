"""Fixtures for the transport tests: one real server per kind (session scope), and a
``transport_case`` fixture that gives every contract test a fresh, empty directory (or key
prefix) on each kind in turn."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from transports.transport_servers import (
    BUCKET,
    FTP_PASSWORD,
    FTP_USER,
    S3_KEY_ID,
    S3_SECRET,
    Case,
    FtpServer,
    S3Server,
    Sshd,
    cert_only,
    ensure_password_user,
    remove_password_user,
    self_signed_cert,
    start_sshd,
)

from hub.transports import Transport, open_transport

# -- servers ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def make_sshd(tmp_path: Path) -> Iterator[Callable[[], Sshd]]:
    """Start a private sshd (for tests that break its connections)."""
    started: list[Sshd] = []

    def make() -> Sshd:
        server = start_sshd(tmp_path / f"sshd-{len(started)}")
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def sftp_password_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A local account with a random password, for password auth against the real sshd."""
    # Not under pytest's temp root: that is root-only (0700), and the user must reach its home.
    home = Path(tempfile.mkdtemp(prefix="hub-sftp-home-"))
    home.chmod(0o755)
    user, password, created = ensure_password_user(home)
    yield {"user": user, "password": password, "home": home}
    if created:
        remove_password_user()
    shutil.rmtree(home)


@pytest.fixture(scope="session")
def ftp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ftp-root")


@pytest.fixture(scope="session")
def ftp_server(ftp_root: Path) -> Iterator[FtpServer]:
    server = FtpServer(ftp_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ftps_cert(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pem = self_signed_cert(tmp_path_factory.mktemp("ftps-cert"))
    return {"server": pem, "ca": cert_only(pem)}


@pytest.fixture(scope="session")
def ftps_server(ftp_root: Path, ftps_cert: dict[str, Path]) -> Iterator[FtpServer]:
    server = FtpServer(ftp_root, certfile=ftps_cert["server"])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ftp_server_without_mlsd(ftp_root: Path) -> Iterator[FtpServer]:
    """An FTP server that does not know MLSD/MLST, like many older ones."""
    server = FtpServer(ftp_root, mlsd=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


# -- one contract case per kind ---------------------------------------------------------------

def _directory_case(kind: str, transport: Transport, directory: Path,
                    secret: str | None = None) -> Case:
    def write_raw(name: str, data: bytes) -> None:
        (directory / name).write_bytes(data)

    def make_subdir(name: str) -> None:
        (directory / name).mkdir()
        (directory / name / "inner.csv").write_bytes(b"x")

    return Case(kind, transport, lambda: sorted(os.listdir(directory)), write_raw,
                make_subdir, secret)


KINDS = ["local", "sftp", "ftp", "ftps", "s3"]


@pytest.fixture(params=KINDS)
def transport_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    kind = request.param
    case: Case
    if kind == "local":
        directory = tmp_path / "local"
        directory.mkdir()
        case = _directory_case(kind, open_transport(str(directory)), directory)
    elif kind == "sftp":
        sshd: Sshd = request.getfixturevalue("sshd")
        directory = tmp_path / "sftp"
        directory.mkdir()
        transport = open_transport(sshd.url(directory), private_key_file=str(sshd.client_key),
                                   known_hosts_file=str(sshd.known_hosts), timeout=10)
        case = _directory_case(kind, transport, directory)
    elif kind in ("ftp", "ftps"):
        root: Path = request.getfixturevalue("ftp_root")
        server: FtpServer = request.getfixturevalue(f"{kind}_server")
        sub = f"t-{uuid.uuid4().hex[:10]}"
        (root / sub).mkdir()
        options: dict[str, Any] = {"password": FTP_PASSWORD, "timeout": 10}
        if kind == "ftps":
            options["ca_file"] = str(request.getfixturevalue("ftps_cert")["ca"])
        transport = open_transport(f"{kind}://{FTP_USER}@127.0.0.1:{server.port}/{sub}",
                                   **options)
        case = _directory_case(kind, transport, root / sub, FTP_PASSWORD)
    else:
        s3: S3Server = request.getfixturevalue("s3_server")
        prefix = f"t-{uuid.uuid4().hex[:10]}"
        transport = open_transport(f"s3://{BUCKET}/{prefix}", endpoint_url=s3.endpoint,
                                   region="us-east-1", access_key_id=S3_KEY_ID,
                                   secret_access_key=S3_SECRET, max_attempts=1)
        client = s3.client()

        def raw_names() -> list[str]:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=f"{prefix}/")
            return sorted(o["Key"][len(prefix) + 1:] for p in pages for o in p.get("Contents", []))

        def write_raw(name: str, data: bytes) -> None:
            client.put_object(Bucket=BUCKET, Key=f"{prefix}/{name}", Body=data)

        def make_subdir(name: str) -> None:
            write_raw(f"{name}/inner.csv", b"x")

        case = Case(kind, transport, raw_names, write_raw, make_subdir, S3_SECRET)
    with case.transport:
        yield case
