"""The Beat schedule, and the rule that only one Beat runs (real ``hub beat`` processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.schedules import crontab

import beat_schedule
import support
from hub.config import ConfigError


def test_the_schedule_runs_device_score_from_config_and_names_registered_tasks(
        tmp_path: Path) -> None:
    config = support.make_config(support.door_overrides(tmp_path, **{
        "device.score.schedule": "5 */2 * * 1-5", "dacs.file.target.transfer.pref": "os"}))
    entries = beat_schedule.build(config)
    entry = entries["device-score-transfer"]
    assert entry["task"] == "device_score.run" and entry["kwargs"] == {"source": "os"}
    assert entry["schedule"] == crontab(minute="5", hour="*/2", day_of_week="1-5")
    from tasks.app import celery_app

    import tasks.device_score  # noqa: F401 - registers the task

    assert "device_score.run" in celery_app.tasks


def test_device_score_can_be_taken_off_the_schedule_and_a_bad_cron_is_refused(
        tmp_path: Path) -> None:
    config = support.make_config(support.door_overrides(tmp_path, **{
        "device.score.schedule": "off"}))
    entries = beat_schedule.build(config)
    assert "device-score-transfer" not in entries
    assert {"reconcile-pending-segments", "prune-ledger-and-staging"} <= set(entries)
    with pytest.raises(ConfigError) as caught:  # five fields, but minute 61 does not exist
        support.make_config(support.door_overrides(tmp_path, **{
            "device.score.schedule": "61 * * * *"}))
    assert "device.score.schedule" in caught.value.problems


def beat(config_file: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONFIG"] = str(config_file)
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "beat", "--config",
                             str(config_file)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_a_second_beat_refuses_to_start_while_the_first_runs(tmp_path: Path) -> None:
    overrides = support.door_overrides(tmp_path / "var", **{
        # Nothing fires during the test: no worker listens to this broker anyway.
        "device.score.schedule": "0 0 1 1 *"})
    config_file = support.write_config_file(tmp_path / "hub.conf", overrides)
    config = support.make_config(overrides)
    config.var_dir.mkdir(parents=True)
    from hub.ledger import Ledger

    lock = Ledger(config.database_url)
    first = beat(config_file)
    try:
        # The first Beat holds the lock once its ledger row is there.
        support.wait_for(lambda: _holder(lock) is not None, 30, what="the first beat's lock")
        assert first.poll() is None
        second = subprocess.run(
            [sys.executable, "-m", "hub.cli", "beat", "--config", str(config_file)],
            env={k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            capture_output=True, timeout=60)
        assert second.returncode != 0
        assert b"only one Beat may run" in second.stdout + second.stderr
        assert first.poll() is None  # the first one is unaffected
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(30)
    # Stopped cleanly, the first Beat gave the lock back: a new one may start at once.
    assert _holder(lock) is None
    third = beat(config_file)
    try:
        support.wait_for(lambda: _holder(lock) is not None, 30, what="the third beat's lock")
        time.sleep(0.5)
        assert third.poll() is None
    finally:
        os.killpg(third.pid, signal.SIGTERM)
        third.wait(30)


def _holder(ledger: object) -> str | None:
    from sqlalchemy import select

    from hub.ledger import file_claims

    with ledger.begin() as conn:  # type: ignore[attr-defined]
        row = conn.execute(select(file_claims.c.owner).where(
            file_claims.c.source == "beat", file_claims.c.name == "lock")).first()
    return row[0] if row else None
