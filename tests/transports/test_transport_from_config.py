"""Transports built from the contract's config properties, against the real test servers."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from transports.transport_servers import (
    BUCKET,
    FTP_PASSWORD,
    FTP_USER,
    S3_KEY_ID,
    S3_SECRET,
    FtpServer,
    S3Server,
    Sshd,
)

from hub.config import ConfigError, load_config
from hub.transports import oci_s3_endpoint
from hub.transports.from_config import file_server_transport, object_store_transport
from hub.transports.ftp import FTPTransport
from hub.transports.sftp import SFTPTransport


def test_sftp_from_config(sshd: Sshd, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    config = load_config(env={}, overrides={
        "dacs.ftp.url": f"sftp://root@127.0.0.1:{sshd.port}{tmp_path}",
        "dacs.ftp.private.key.file": str(sshd.client_key),
        "dacs.ftp.known.hosts.file": str(sshd.known_hosts),
    })
    with file_server_transport(config, "in") as t:
        assert isinstance(t, SFTPTransport)
        t.put("DeviceScore-1.csv", io.BytesIO(b"score"))
    assert (tmp_path / "in" / "DeviceScore-1.csv").read_bytes() == b"score"


def test_ftp_from_config_ignores_the_sftp_only_properties(ftp_server: FtpServer,
                                                          ftp_root: Path) -> None:
    sub = f"t-{uuid.uuid4().hex[:8]}"
    (ftp_root / sub).mkdir()
    # known_hosts has a default; it must not reach the FTP transport.
    config = load_config(env={"HUB_DACS_FTP_PASSWORD": FTP_PASSWORD}, overrides={
        "dacs.ftp.url": f"ftp://{FTP_USER}@127.0.0.1:{ftp_server.port}"})
    with file_server_transport(config, f"/{sub}") as t:
        assert isinstance(t, FTPTransport)
        t.put("a.csv", io.BytesIO(b"1"))
    assert (ftp_root / sub / "a.csv").read_bytes() == b"1"


def test_object_store_from_config(s3_server: S3Server) -> None:
    config = load_config(env={}, overrides={
        "dacs.os.endpoint.url": s3_server.endpoint, "dacs.os.region": "us-east-1",
        "dacs.os.access.key.id": S3_KEY_ID, "dacs.os.secret.access.key": S3_SECRET})
    with object_store_transport(config, BUCKET, "cfg") as t:
        t.put("b.csv", io.BytesIO(b"22"))
    assert s3_server.client().get_object(Bucket=BUCKET, Key="cfg/b.csv")["Body"].read() == b"22"


def test_object_store_defaults_to_the_oci_endpoint() -> None:
    config = load_config(env={}, overrides={"dacs.os.namespace": "ns1",
                                            "dacs.os.region": "us-phoenix-1"})
    t = object_store_transport(config, "bucket")
    assert t.endpoint_url == oci_s3_endpoint("ns1", "us-phoenix-1")  # type: ignore[attr-defined]
    # A request's own namespace (Common OS Transfer's message) wins.
    t2 = object_store_transport(config, "bucket", namespace="other")
    assert t2.endpoint_url == oci_s3_endpoint("other", "us-phoenix-1")  # type: ignore


def test_missing_properties_are_named() -> None:
    config = load_config(env={})
    with pytest.raises(ConfigError) as info:
        file_server_transport(config, "in")
    assert "dacs.ftp.url" in info.value.problems
    with pytest.raises(ConfigError) as info:
        object_store_transport(config, "bucket")
    assert "dacs.os.endpoint.url" in info.value.problems
