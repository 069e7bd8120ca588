"""The Beat schedule, declared in one place, naming tasks by their registered names.

Only one Beat may run: ``hub beat`` holds a lease in the ledger while it runs, and a second
``hub beat`` refuses to start (docs/configuration.md, "Beat: only one"). Device Score runs may
still overlap (a slow run and the next tick, or a run-now): each file is claimed in the ledger
before it is read, so none is sent twice. The schedule is read when Beat starts.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from hub.config import Config


def _cron(expression: str) -> crontab:
    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                   month_of_year=month_of_year, day_of_week=day_of_week)


def build(config: Config) -> dict[str, dict[str, Any]]:
    """The entries for ``beat_schedule``; each names a task registered under ``tasks/``.

    ``device.score.schedule = off`` leaves Device Score out (run-now still works); the
    housekeeping entries are always there.
    """
    entries: dict[str, dict[str, Any]] = {}
    if config["device.score.schedule"] != "off":
        entries["device-score-transfer"] = {
            "task": "device_score.run",
            "schedule": _cron(config["device.score.schedule"]),
            "kwargs": {"source": config["dacs.file.target.transfer.pref"]},
        }
    return entries | {
        "reconcile-pending-segments": {
            "task": "housekeeping.reconcile",
            "schedule": 60.0,
        },
        "prune-ledger-and-staging": {
            "task": "housekeeping.prune",
            "schedule": _cron("17 3 * * *"),
        },
    }
