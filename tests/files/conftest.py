"""Fixtures of the file-flow tests that need stacks of their own: a short reconcile deadline,
small segments, a worker to kill or restart, S3 staging, a fresh worker to measure."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from conftest import Stack


def start_own_stack(kind: str, sandbox: Any, mail_sink: Any, var_dir: Path, *,
                    concurrency: int = 2, **extra: Any) -> Stack:
    """A hub like the session's ``stack`` but with its own config and worker (as
    conftest._start_stack builds one), so a test may stop, kill or restart that worker."""
    overrides = support.base_overrides(var_dir, sandbox_url=sandbox.url, smtp_port=mail_sink.port)
    if kind == "redis":
        problem = support.redis_reachable()
        if problem:
            pytest.fail(f"Redis is not reachable at {support.REDIS_URL}: {problem}")
        overrides["broker.key.prefix"] = f"hubfiles-{var_dir.name}-{os.getpid()}:"
        overrides["broker.url"] = support.REDIS_URL
        overrides["result.backend"] = support.REDIS_URL
    overrides.update(extra)
    config = support.make_config(overrides)
    config_file = support.write_config_file(var_dir / "hub.conf", overrides)
    stack = Stack(kind, config, config_file, None)
    stack.extra["concurrency"] = concurrency
    stack.worker = start_worker(stack)
    return stack


def start_worker(stack: Stack) -> support.Worker:
    worker = support.Worker(stack.config_file, concurrency=stack.extra["concurrency"])
    try:
        worker.wait_ready()
    except RuntimeError:
        worker.stop()
        raise
    return worker


@pytest.fixture
def own_stack(sandbox: Any, mail_sink: Any, sandbox_control: Any, mailbox: Any,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """``own_stack(kind, concurrency=2, **config_overrides)`` -> an activated Stack."""
    started: list[Stack] = []

    def make(kind: str, **kwargs: Any) -> Stack:
        stack = start_own_stack(kind, sandbox, mail_sink, tmp_path_factory.mktemp(f"own-{kind}"),
                                **kwargs)
        started.append(stack)
        return stack.activate()

    yield make
    for stack in started:
        if stack.worker:
            stack.worker.stop()
        if stack.kind == "redis" and stack.config.get("broker.key.prefix"):
            import redis

            client = redis.Redis.from_url(support.REDIS_URL)
            for key in client.scan_iter(f"{stack.config['broker.key.prefix']}*"):
                client.delete(key)


class S3Server:
    """moto's S3 in server mode on a free loopback port, with one bucket for staging."""

    BUCKET = "hub-staging"
    KEY_ID, SECRET = "AKIAHUBSTAGING000000", "hub-staging-secret-0123456789abcdefghijkl"

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.client().create_bucket(Bucket=self.BUCKET)

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.KEY_ID, aws_secret_access_key=self.SECRET)

    def overrides(self, prefix: str) -> dict[str, Any]:
        return {"staging.url": f"s3://{self.BUCKET}/{prefix}",
                "staging.s3.endpoint.url": self.endpoint, "staging.s3.region": "us-east-1",
                "staging.s3.access.key.id": self.KEY_ID,
                "staging.s3.secret.access.key": self.SECRET}

    def keys(self, prefix: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.BUCKET, Prefix=prefix + "/")
        return [o["Key"] for o in listing.get("Contents", [])]

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    yield server
    server.stop()


def worker_children(worker: support.Worker) -> list[int]:
    """The pool processes of a prefork worker (children of its main process)."""
    pid = worker.process.pid
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    return children


def peak_rss_kb(pid: int) -> int:
    """VmHWM: the process's peak resident set size, from the kernel."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")
