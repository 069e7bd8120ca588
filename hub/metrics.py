"""Prometheus metrics, shared by every hub process. Names and meanings: docs/operations.md.

Most of what ops want to count happens in the workers (outbound calls, retries, dead letters,
segments), but ``/metrics`` is served by the front door. So the hub uses prometheus_client's
multiprocess mode: every process writes its counters to memory-mapped files in one directory
(``<var.dir>/metrics``), and ``/metrics`` adds them up at scrape time.

:func:`setup` switches the calling process to that directory. ``hub web``, ``hub worker`` and
``hub beat`` call it before they start (``hub.cli._init``), the front door calls it when the app
is built, and the test fixtures call it. It works whatever was imported before: prometheus_client
picks its value class from ``PROMETHEUS_MULTIPROC_DIR`` once, at import, so :func:`setup` sets the
variable (inherited by forked and child processes), installs a multiprocess value class, and
rebuilds the metric objects below. Code reads them as ``metrics.NAME`` at call time, never
``from hub.metrics import NAME``, so it always gets the current ones.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["setup", "collect", "directory", "MESSAGES_ACCEPTED", "MESSAGES_REFUSED",
           "OUTBOUND_CALLS", "TASK_RETRIES", "DEAD_LETTERS", "REQUEUES", "SEGMENT_SECONDS"]

#: segment latency buckets: a segment is one DACS call of up to dacs.file.segment.size rows
_SEGMENT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

_lock = threading.Lock()
_directory: Path | None = None
_asked: Any = None  # the last argument of setup(), before resolving it: the fast path

MESSAGES_ACCEPTED: Counter
MESSAGES_REFUSED: Counter
OUTBOUND_CALLS: Counter
TASK_RETRIES: Counter
DEAD_LETTERS: Counter
REQUEUES: Counter
SEGMENT_SECONDS: Histogram


def _build() -> None:
    """(Re)create the metric objects with the current value class. Not registered globally:
    ``/metrics`` reads the multiprocess files, and a rebuild must not clash with the old ones."""
    global MESSAGES_ACCEPTED, MESSAGES_REFUSED, OUTBOUND_CALLS, TASK_RETRIES, DEAD_LETTERS
    global REQUEUES, SEGMENT_SECONDS
    MESSAGES_ACCEPTED = Counter("hub_messages_accepted_total",
                                "Messages accepted by the front door (enqueued), by flow",
                                ["flow"], registry=None)
    MESSAGES_REFUSED = Counter("hub_messages_refused_total",
                               "Requests to a flow's endpoint answered 4xx/5xx, by flow and status",
                               ["flow", "status"], registry=None)
    OUTBOUND_CALLS = Counter("hub_outbound_calls_total",
                             "Outbound calls to DACS/DERMS by target, operation and HTTP status",
                             ["target", "op", "status"], registry=None)
    TASK_RETRIES = Counter("hub_task_retries_total", "Task retries after a transient error",
                           ["task"], registry=None)
    DEAD_LETTERS = Counter("hub_dead_letters_total",
                           "Work recorded in the dead-letter ledger (retries spent), by flow",
                           ["flow"], registry=None)
    REQUEUES = Counter("hub_requeues_total", "Dead letters re-queued by ops, by flow",
                       ["flow"], registry=None)
    SEGMENT_SECONDS = Histogram("hub_segment_seconds",
                                "Time to post one file segment to DACS, by flow",
                                ["flow"], buckets=_SEGMENT_BUCKETS, registry=None)


_build()


def setup(directory: str | Path) -> Path:
    """Make this process write its metrics to ``directory`` (created if missing). Idempotent."""
    global _directory, _asked
    if directory == _asked and _directory is not None:
        return _directory
    path = Path(directory).expanduser().resolve()
    with _lock:
        _asked = directory
        if _directory == path:
            return path
        path.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        # A fresh value class: its file cache is empty, so new values go to the new directory.
        # The old class's files stay open (a metric object fetched just before this call may
        # still write to them); it happens once per process outside the tests.
        values.ValueClass = values.MultiProcessValue()
        _build()
        _directory = path
    return path


def directory() -> Path | None:
    """The directory this process writes to, or None before :func:`setup`."""
    return _directory


def collect(path: str | Path, extra: Iterable[Any] = ()) -> bytes:
    """Every process's metrics under ``path``, plus ``extra`` collectors, in the text format."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)
