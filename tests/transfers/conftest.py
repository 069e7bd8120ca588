"""Fixtures of the file-transfer tests: real file servers (OpenSSH sshd, pyftpdlib, moto's S3),
and a hub stack of our own whose ``dacs.ftp.*`` / ``dacs.os.*`` point at them (the session-wide
``stack`` fixture of tests/conftest.py has no file servers).

Layout on the servers (one session):

* SFTP root ``<tmp>/sftp``: ``score/`` (Device Score source), ``spnl/`` (SP Network Location
  target), ``common/`` (Common FTP Transfer target);
* S3 buckets ``dacs-score``, ``dacs-spnl``, ``common-bucket``.

Every test uses names of its own (:func:`unique`), so claims and files of one test never meet
another's; the directories and buckets are emptied before each test anyway.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transfers.xfer_support import (
    COMMON_BUCKET,
    SCORE_BUCKET,
    SPNL_BUCKET,
    XferStack,
    empty_bucket,
    transfer_overrides,
)
from transports.transport_servers import FtpServer, S3Server, Sshd, start_sshd

import support
from hub import runtime
from hub.config import Config


# -- servers ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def xfer_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("xfer-sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sftp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sftp")
    for sub in ("score", "spnl", "common"):
        (root / sub).mkdir()
    return root


@pytest.fixture(scope="session")
def xfer_ftp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("xfer-ftp")
    (root / "score").mkdir()
    return root


@pytest.fixture(scope="session")
def xfer_ftp(xfer_ftp_root: Path) -> Iterator[FtpServer]:
    server = FtpServer(xfer_ftp_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xfer_s3() -> Iterator[S3Server]:
    server = S3Server()
    for bucket in (SCORE_BUCKET, SPNL_BUCKET, COMMON_BUCKET):
        server.client().create_bucket(Bucket=bucket)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _xstack(sandbox: Any, mail_sink: Any, xfer_sshd: Sshd, sftp_root: Path, xfer_s3: S3Server,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[XferStack]:
    var_dir = tmp_path_factory.mktemp("hub-xfer")
    # A copy of the server's known_hosts that tests may break (and the fixture restores).
    known_hosts = var_dir / "known_hosts"
    shutil.copy(xfer_sshd.known_hosts, known_hosts)
    overrides = transfer_overrides(var_dir / "var", sandbox=sandbox, mail_sink=mail_sink,
                                   sshd=xfer_sshd, sftp_root=sftp_root, s3=xfer_s3,
                                   known_hosts=known_hosts)
    config = support.make_config(overrides)
    config_file = support.write_config_file(var_dir / "hub.conf", overrides)
    worker = support.Worker(config_file, concurrency=3)
    try:
        worker.wait_ready()
    except RuntimeError:
        worker.stop()
        raise
    stack = XferStack(config, config_file, worker, xfer_sshd, sftp_root, xfer_s3, known_hosts,
                      known_hosts.read_bytes())
    yield stack
    # A warm shutdown of the embedded-broker worker takes ~20 s (support.Worker.stop); nothing
    # here needs one, so end the worker's process group at once.
    if worker.process.poll() is None:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(10)


@pytest.fixture
def xstack(_xstack: XferStack, sandbox_control: Any, mailbox: Any) -> Iterator[XferStack]:
    """The transfer stack, with empty directories and buckets and a trusted host key."""
    for sub in ("score", "spnl", "common"):
        directory = _xstack.sftp_root / sub
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
    for bucket in (SCORE_BUCKET, SPNL_BUCKET, COMMON_BUCKET):
        empty_bucket(_xstack.s3, bucket)
    _xstack.known_hosts.write_bytes(_xstack.good_known_hosts)
    # Staged files kept by an earlier test's failed transfer (for re-queueing) would blur
    # "nothing was staged".
    shutil.rmtree(_xstack.config.var_dir / "staging", ignore_errors=True)
    yield _xstack.activate()
    _xstack.known_hosts.write_bytes(_xstack.good_known_hosts)


# -- in-process runs --------------------------------------------------------------------------

@pytest.fixture
def local_config(tmp_path: Path, sandbox: Any, mail_sink: Any, xfer_sshd: Sshd, sftp_root: Path,
                 xfer_s3: S3Server, sandbox_control: Any, mailbox: Any) -> Any:
    """Build a config for an in-process run (its own var dir and ledger) and make it current;
    keyword arguments override properties."""
    made: list[Config] = []

    def make(**extra: Any) -> Config:
        overrides = transfer_overrides(tmp_path / f"var{len(made)}", sandbox=sandbox,
                                       mail_sink=mail_sink, sshd=xfer_sshd, sftp_root=sftp_root,
                                       s3=xfer_s3, known_hosts=xfer_sshd.known_hosts, **extra)
        config = support.make_config(overrides)
        runtime.init(config)
        made.append(config)
        return config

    for sub in ("score", "spnl", "common"):
        shutil.rmtree(sftp_root / sub, ignore_errors=True)
        (sftp_root / sub).mkdir()
    return make

