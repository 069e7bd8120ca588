"""`hub failed ...`: real subprocesses, the ledger and the broker of the config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from conftest import Stack
from ops.ops_support import fail_enrollment_sync, wait_job

KEYS = {"id", "flow", "jobId", "step", "error", "attempts", "createdAt", "status"}


def hub(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONFIG"] = str(stack.config_file)
    return subprocess.run([sys.executable, "-m", "hub.cli", "failed", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_list_json_show_requeue_and_discard(ops: Stack, sandbox_control: Any) -> None:
    requeue_job, requeue_entry = fail_enrollment_sync(ops, sandbox_control, down=False)
    discard_job, discard_entry = fail_enrollment_sync(ops, sandbox_control, down=False)

    listed = hub(ops, "list", "--flow", "enrollment_sync", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert isinstance(items, list)
    by_job = {item["jobId"]: item for item in items}
    for job_id, entry in ((requeue_job, requeue_entry), (discard_job, discard_entry)):
        item = by_job[job_id]
        assert KEYS <= set(item)
        assert item["id"] == entry["id"] and item["status"] == "OPEN"
        assert item["flow"] == "enrollment_sync" and item["step"] == "enrollment_sync.send"
        assert item["attempts"] == 1 and "400" in item["error"]
        assert item["createdAt"].endswith("Z")
    assert items.index(by_job[discard_job]) < items.index(by_job[requeue_job])  # newest first
    other = hub(ops, "list", "--flow", "no_such_flow", "--json")
    assert other.returncode == 0 and json.loads(other.stdout) == []

    table = hub(ops, "list")
    assert table.returncode == 0 and requeue_entry["id"] in table.stdout
    shown = hub(ops, "show", requeue_entry["id"])
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["input"]["kwargs"]["job_id"] == requeue_job

    done = hub(ops, "requeue", requeue_entry["id"])
    assert done.returncode == 0, done.stderr
    assert f"re-queued {requeue_entry['id']}" in done.stdout and requeue_job in done.stdout
    wait_job(ops, requeue_job, "SUCCEEDED")
    twice = hub(ops, "requeue", requeue_entry["id"])
    assert twice.returncode == 1 and "already REQUEUED" in twice.stderr

    dropped = hub(ops, "discard", discard_entry["id"])
    assert dropped.returncode == 0 and ops.ledger.get_dead_letter(discard_entry["id"])[
        "status"] == "DISCARDED"
    assert hub(ops, "discard", discard_entry["id"]).returncode == 1
    assert hub(ops, "show", "no-such-id").returncode == 1
    assert ops.ledger.get_job(discard_job)["status"] == "FAILED"


def test_requeue_all_of_a_flow_since(ops: Stack, sandbox_control: Any) -> None:
    jobs = [fail_enrollment_sync(ops, sandbox_control, down=False)[0] for _ in range(2)]
    usage = hub(ops, "requeue")
    assert usage.returncode == 2 and "--all" in usage.stderr
    done = hub(ops, "requeue", "--all", "--flow", "enrollment_sync", "--since", "10m")
    assert done.returncode == 0, done.stderr
    assert "re-queued, 0 already taken" in done.stdout
    for job_id in jobs:
        assert job_id in done.stdout
        wait_job(ops, job_id, "SUCCEEDED")
    again = hub(ops, "list", "--flow", "enrollment_sync", "--json")
    assert not {item["jobId"] for item in json.loads(again.stdout)} & set(jobs)
