"""Session fixtures that start the real parts: the sandbox, an SMTP sink, workers on both brokers."""

from __future__ import annotations

import email.message
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import support
from hub import runtime
from hub.config import Config


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    from hub.sandbox import serve_sandbox

    server = serve_sandbox()
    yield server
    server.shutdown()


@pytest.fixture
def sandbox_control(sandbox: Any) -> Any:
    from hub.sandbox import SandboxControl

    control = SandboxControl(sandbox.url)
    control.reset()
    return control


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from hub.mailsink import start_mail_sink

    sink = start_mail_sink(tmp_path_factory.mktemp("mail"))
    yield sink
    sink.stop()


class Mailbox:
    def __init__(self, sink: Any):
        self.sink = sink

    def clear(self) -> None:
        for path in Path(self.sink.directory).glob("*.eml"):
            path.unlink()

    def messages(self) -> list[email.message.EmailMessage]:
        return self.sink.messages()

    def wait(self, count: int = 1, timeout: float = 20) -> list[email.message.EmailMessage]:
        return support.wait_for(lambda: (m := self.messages()) and len(m) >= count and m,
                                timeout, what=f"{count} email(s)")


@pytest.fixture
def mailbox(mail_sink: Any) -> Mailbox:
    box = Mailbox(mail_sink)
    box.clear()
    return box


@dataclass
class Stack:
    """A hub wired to the sandbox and the mail sink, with a real worker on one broker."""

    kind: str
    config: Config
    config_file: Path
    worker: support.Worker | None
    app: Flask | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def activate(self) -> Stack:
        from hub.app import create_app

        if runtime._current is None or runtime._current.config is not self.config:
            runtime.init(self.config)
        if self.app is None:
            self.app = create_app(self.config)
        return self

    @property
    def client(self) -> FlaskClient:
        assert self.app is not None
        return self.app.test_client()

    def post(self, path: str, *, as_client: str, **kwargs: Any) -> Any:
        headers = {**support.basic(as_client), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def get(self, path: str, *, as_client: str = "ops", **kwargs: Any) -> Any:
        headers = {**support.basic(as_client), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    @property
    def ledger(self) -> Any:
        return runtime.get().ledger


def _start_stack(kind: str, sandbox: Any, mail_sink: Any, var_dir: Path,
                 **extra_overrides: Any) -> Stack:
    overrides = support.base_overrides(var_dir, sandbox_url=sandbox.url, smtp_port=mail_sink.port)
    if kind == "redis":
        problem = support.redis_reachable()
        if problem:
            pytest.fail(f"Redis is not reachable at {support.REDIS_URL}: {problem}. "
                        "Start it (.ci/run does) or set HUB_TEST_REDIS_URL.")
        # A prefix of its own, so test sessions running at once never share a queue.
        overrides["broker.key.prefix"] = f"hubtest-{var_dir.name}-{os.getpid()}:"
        overrides["broker.url"] = support.REDIS_URL
        overrides["result.backend"] = support.REDIS_URL
    overrides.update(extra_overrides)
    config = support.make_config(overrides)
    config_file = support.write_config_file(var_dir / "hub.conf", overrides)
    worker = support.Worker(config_file)
    try:
        worker.wait_ready()
    except RuntimeError:
        worker.stop()
        raise
    return Stack(kind, config, config_file, worker)


@pytest.fixture(scope="session")
def _stacks(sandbox: Any, mail_sink: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Stack]]:
    started: dict[str, Stack] = {}

    def get(kind: str) -> Stack:
        if kind not in started:
            started[kind] = _start_stack(kind, sandbox, mail_sink,
                                         tmp_path_factory.mktemp(f"hub-{kind}"))
        return started[kind]

    yield get  # type: ignore[misc]
    for stack in started.values():
        if stack.worker:
            stack.worker.stop()


@pytest.fixture(params=["embedded", "redis"])
def stack(request: pytest.FixtureRequest, _stacks: Any, sandbox_control: Any,
          mailbox: Mailbox) -> Stack:
    """The hub end to end on each broker: door (in-process), a real worker, sandbox, mail."""
    return _stacks(request.param).activate()


@pytest.fixture
def redis_stack(_stacks: Any, sandbox_control: Any, mailbox: Mailbox) -> Stack:
    """The hub end to end on Redis only (the production broker)."""
    return _stacks("redis").activate()


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Stack]:
    """The front door alone: embedded broker, no worker, so queued messages stay countable."""
    overrides = support.door_overrides(tmp_path / "var")
    config = support.make_config(overrides)
    stack = Stack("door", config, support.write_config_file(tmp_path / "hub.conf", overrides), None)
    yield stack.activate()
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
