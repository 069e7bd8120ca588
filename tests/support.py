"""Helpers for the test suite: real services, started and stopped by the fixtures in conftest."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.config import Config, load_config

#: copies of ../shared/contract/examples, so a clone without shared/ still runs the suite
EXAMPLES = Path(__file__).resolve().parent / "data" / "contract"


def example(name: str) -> Any:
    import json

    return json.loads((EXAMPLES / name).read_text())


REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

CREDENTIALS = {"dacs": ("dacs-user", "dacs-pass-9f2"), "derms": ("derms-user", "derms-pass-4c1"),
               "ops": ("ops-user", "ops-pass-7d3")}


def basic(client: str) -> dict[str, str]:
    user, password = CREDENTIALS[client]
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def base_overrides(var_dir: Path, *, sandbox_url: str, smtp_port: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "var.dir": str(var_dir),
        "dacs.base.url": f"{sandbox_url}/dacs",
        "derms.base.url": f"{sandbox_url}/derms",
        "smtp.host": "127.0.0.1", "smtp.port": smtp_port,
        "email.to": "errors@utility.test", "email.from": "hub@utility.test",
        "email.to.process.notification": "ops@utility.test",
        "http.retry.max": 2, "http.retry.backoff.seconds": 0.1,
        "http.retry.backoff.max.seconds": 0.3, "http.timeout.seconds": 5,
        "sync.timeout.seconds": 30, "mail.retry.max": 2,
    }
    for client, (user, password) in CREDENTIALS.items():
        values[f"clients.{client}.username"] = user
        values[f"clients.{client}.password"] = password
    return values


def door_overrides(var_dir: Path, **extra: Any) -> dict[str, Any]:
    """For tests of the door alone: targets that are never called."""
    return {**base_overrides(var_dir, sandbox_url="http://127.0.0.1:9", smtp_port=9), **extra}


def make_config(overrides: Mapping[str, Any]) -> Config:
    return load_config(env={}, overrides=overrides)


def write_config_file(path: Path, overrides: Mapping[str, Any]) -> Path:
    path.write_text("".join(f"{k} = {v}\n" for k, v in overrides.items() if v is not None))
    return path


def redis_reachable(url: str = REDIS_URL) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def create_postgres_db() -> str:
    """A fresh, empty database; returns its URL. The caller drops it with drop_postgres_db."""
    import sqlalchemy

    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_db(url: str) -> None:
    import sqlalchemy

    name = url.rsplit("/", 1)[1]
    engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class HubProcess:
    """A real ``hub <args>`` in a child process (its own process group), its output kept for
    the assertions. ``stop`` asks it to end (SIGTERM), then kills it after ``stop_grace``."""

    stop_grace = 15.0

    def __init__(self, config_file: Path, args: list[str], *,
                 extra_env: Mapping[str, str] | None = None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(extra_env or {})
        env["HUB_CONFIG"] = str(config_file)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        """End the process group; its exit status."""
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(self.stop_grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(5)


class Worker(HubProcess):
    """A real ``hub worker``."""

    # A warm shutdown sometimes lingers; the tests need no graceful exit.
    stop_grace = 8.0

    def __init__(self, config_file: Path, *, concurrency: int = 2, pool: str = "prefork",
                 extra_env: Mapping[str, str] | None = None):
        self.name = f"test-{uuid.uuid4().hex[:6]}@%h"
        super().__init__(config_file, ["worker", f"--concurrency={concurrency}",
                                       f"--pool={pool}", f"--hostname={self.name}"],
                         extra_env=extra_env)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.output}")
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output[-3000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Any, timeout: float = 20, interval: float = 0.1, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(interval)
