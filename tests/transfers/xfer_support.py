"""Helpers of the file-transfer tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transports.transport_servers import S3_KEY_ID, S3_SECRET, S3Server, Sshd

import support
from hub import runtime
from hub.config import Config

SCORE_BUCKET, SPNL_BUCKET, COMMON_BUCKET = "dacs-score", "dacs-spnl", "common-bucket"


def unique(stem: str = "") -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


def empty_bucket(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])


def bucket_names(s3: S3Server, bucket: str) -> list[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


# -- config -----------------------------------------------------------------------------------

def transfer_overrides(var_dir: Path, *, sandbox: Any, mail_sink: Any, sshd: Sshd,
                       sftp_root: Path, s3: S3Server, known_hosts: Path,
                       **extra: Any) -> dict[str, Any]:
    """The hub's config for these tests: the sandbox, the mail sink, and the file servers."""
    overrides = support.base_overrides(var_dir, sandbox_url=sandbox.url,
                                       smtp_port=mail_sink.port)
    overrides.update({
        "dacs.file.target.transfer.pref": "ftp",
        "dacs.ftp.url": sshd.url(sftp_root),
        "dacs.ftp.private.key.file": str(sshd.client_key),
        "dacs.ftp.known.hosts.file": str(known_hosts),
        "dacs.dvcScore.ftp.input.directory": "score",
        "dacs.spNtwkLoc.ftp.input.directory": "spnl",
        "dacs.os.endpoint.url": s3.endpoint, "dacs.os.region": "us-east-1",
        "dacs.os.namespace": "hubtest",
        "dacs.os.access.key.id": S3_KEY_ID, "dacs.os.secret.access.key": S3_SECRET,
        "dacs.os.dvcScore.bucketname": SCORE_BUCKET,
        "dacs.spNtwkLoc.os.bucketname": SPNL_BUCKET,
        "dacs.dvcScore.extract.filename.prefix": "DeviceScore",
        "device.score.min.age.seconds": 0,
        "notification.email.process.nofile.flag": "true",
        "notification.email.process.complete.flag": "true",
        # Retries must be quick, and a connection to a dead server must fail fast.
        "http.retry.max": 2, "http.retry.backoff.seconds": 0.05,
        "http.retry.backoff.max.seconds": 0.2, "http.timeout.seconds": 5,
    })
    overrides.update(extra)
    return overrides


@dataclass
class XferStack:
    """Our own hub stack: config file, a real worker, the in-process door, and the servers."""

    config: Config
    config_file: Path
    worker: support.Worker | None
    sshd: Sshd
    sftp_root: Path
    s3: S3Server
    known_hosts: Path
    good_known_hosts: bytes
    app: Any = None

    def activate(self) -> XferStack:
        from hub.app import create_app

        if runtime._current is None or runtime._current.config is not self.config:
            runtime.init(self.config)
        if self.app is None:
            self.app = create_app(self.config)
        return self

    def post(self, path: str, *, as_client: str = "ops", **kwargs: Any) -> Any:
        headers = {**support.basic(as_client), **kwargs.pop("headers", {})}
        return self.app.test_client().post(path, headers=headers, **kwargs)

    def get(self, path: str, *, as_client: str = "ops", **kwargs: Any) -> Any:
        headers = {**support.basic(as_client), **kwargs.pop("headers", {})}
        return self.app.test_client().get(path, headers=headers, **kwargs)

    @property
    def ledger(self) -> Any:
        return runtime.get().ledger

    @property
    def var_dir(self) -> Path:
        return self.config.var_dir

    def wait_job(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        """The job once it is SUCCEEDED or FAILED."""
        return support.wait_for(
            lambda: (j := self.ledger.get_job(job_id)) and j["status"] in ("SUCCEEDED", "FAILED")
            and j, timeout, what=f"job {job_id} to finish")

    def staged(self) -> list[str]:
        staging = self.var_dir / "staging"
        return sorted(os.listdir(staging)) if staging.exists() else []

    def spooled(self) -> list[str]:
        tmp = self.var_dir / "tmp"
        return sorted(os.listdir(tmp)) if tmp.exists() else []


class DirectNotifier:
    """Sends a run's emails at once, in this process, through the real mail code and relay
    (the worker's notifier queues them; an in-process run has no worker)."""

    def __init__(self, config: Config, job_id: str):
        self.config, self.job_id = config, job_id
        self.kinds: list[str] = []

    def error(self, step: str, report: dict[str, Any]) -> None:
        from tasks.common_errors import send_error_email

        self.kinds.append("error")
        send_error_email(self.config, {
            "flow": "device_score", "jobId": self.job_id, "step": step,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "downstreamStatus": report.get("status"),
            "downstreamMessage": report.get("message"), "target": report.get("target")})

    def process(self, kind: str, context: dict[str, Any]) -> None:
        from tasks.common_errors import send_process_email

        self.kinds.append(kind)
        send_process_email(self.config, kind, context)




def join_prefetch_threads(timeout: float = 5) -> None:
    """Wait for paramiko's prefetch threads to end, so one that dies with a connection a test
    cut on purpose reports its exception inside that test (marked to expect it), not later."""
    import threading

    for thread in threading.enumerate():
        if "_prefetch_thread" in thread.name:
            thread.join(timeout)
