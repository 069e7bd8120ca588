"""`hub flower`: behind the ops credentials, task names by flow, state kept across restarts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import support
from conftest import Stack
from ops.ops_support import enrollment_sync_message, unique, wait_job


class Flower(support.HubProcess):
    """A real ``hub flower``."""

    stop_grace = 20.0

    def __init__(self, stack: Stack):
        self.port = support.free_port()
        super().__init__(stack.config_file, ["flower", "--port", str(self.port),
                                             "--address", "127.0.0.1"])

    def get(self, path: str, auth: Any = None) -> int | None:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}{path}", auth=auth,
                                timeout=5).status_code
        except requests.RequestException:
            return None


@pytest.fixture
def flower(ops: Stack) -> Iterator[Flower]:
    running = Flower(ops)
    yield running
    running.stop()


def test_flower_needs_the_ops_credentials_and_names_tasks_by_flow(
        ops: Stack, flower: Flower) -> None:
    ops_auth = support.CREDENTIALS["ops"]
    support.wait_for(lambda: flower.get("/") == 401, timeout=30, what="Flower to answer")
    assert flower.get("/", auth=(ops_auth[0], "wrong")) == 401
    assert flower.get("/", auth=support.CREDENTIALS["dacs"]) == 401
    assert flower.get("/", auth=ops_auth) == 200
    assert flower.get("/api/tasks") == 401  # the API is not open either

    job_id = unique("flower")
    response = ops.post("/api/v1/dacs/enrollment-syncs", as_client="dacs",
                        json=enrollment_sync_message(f"S-{job_id}"),
                        headers={"X-Correlation-ID": job_id})
    assert response.status_code == 200
    wait_job(ops, job_id, "SUCCEEDED")

    def seen() -> Any:
        tasks = requests.get(f"http://127.0.0.1:{flower.port}/api/tasks", auth=ops_auth,
                             timeout=5).json()
        task = tasks.get(job_id)
        return task if task and task["state"] == "SUCCESS" else None

    task = support.wait_for(seen, timeout=30, what="Flower to see the task succeed")
    assert task["name"] == "enrollment_sync.send"  # named by flow and step

    assert flower.stop() == 0
    stored = list(ops.config.var_dir.glob("flower.db*"))
    assert stored, "Flower kept no state under var/"
    lines = [line for line in "".join(flower.lines).splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)
    assert ops_auth[1] not in "".join(flower.lines)
