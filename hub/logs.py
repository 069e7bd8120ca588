"""Structured logging: JSON lines carrying the correlation id, the flow and the job.

The correlation id lives in a context variable, set by the front door per request and by the task
base class per task, so every log line and every outbound call carries it without threading it
through every function. Configured secrets are masked in every line.

Every hub process (``hub web``, ``hub worker``, ``hub beat``, ``hub flower``) calls
:func:`setup_logging` first. It also takes over Celery's logging (through Celery's
``setup_logging`` signal), so the worker's and Beat's own lines, the task loggers and the
multiprocessing logger all come out as the same JSON on stderr; and Python warnings too.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["bind", "current_correlation_id", "current_flow", "setup_logging", "JsonFormatter",
           "secret_variants"]

_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id",
                                                                          default=None)
_flow: contextvars.ContextVar[str | None] = contextvars.ContextVar("flow", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def current_correlation_id() -> str | None:
    return _correlation.get()


def current_flow() -> str | None:
    return _flow.get()


@contextmanager
def bind(correlation_id: str | None, flow: str | None = None) -> Iterator[None]:
    """Within the block, logs and outbound calls carry this correlation id and flow."""
    token_c = _correlation.set(correlation_id)
    token_f = _flow.set(flow if flow is not None else _flow.get())
    try:
        yield
    finally:
        _correlation.reset(token_c)
        _flow.reset(token_f)


def secret_variants(secrets: Iterable[str], pairs: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Every spelling in which a secret could reach a log line.

    The plain value, its URL-encoded and JSON-escaped forms, and for each ``(user, password)``
    pair the base64 of ``user:password`` (an HTTP Basic header).
    """
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        found.update({secret, quote(secret, safe=""), quote_plus(secret),
                      json.dumps(secret)[1:-1]})
    for user, password in pairs:
        if user and password:
            found.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    return sorted(found)


def _task_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The Celery task a line belongs to, when there is one."""
    fields: dict[str, Any] = {}
    if "celery" in sys.modules:  # never import Celery just to log
        from celery import current_task

        # A proxy: false outside a task.
        if current_task and getattr(current_task.request, "id", None):
            fields["taskId"] = current_task.request.id
            fields["task"] = current_task.name
    # Celery's own trace lines ("Task x[id] succeeded in ...") carry the task in their args.
    args = record.args
    if "taskId" not in fields and isinstance(args, dict) and record.name.startswith("celery"):
        if args.get("id"):
            fields["taskId"] = str(args["id"])
        if args.get("name"):
            fields["task"] = str(args["name"])
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlationId, jobId, flow,
    the Celery task when there is one, and the record's extras."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlationId": _correlation.get(),
            "jobId": _correlation.get(),
            "flow": _flow.get(),
            "process": record.process,
        }
        payload.update(_task_fields(record))
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(payload, default=str)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


JsonFormatter.converter = __import__("time").gmtime  # type: ignore[assignment]

_celery_hooked = False


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Send every logger's records to stderr as JSON lines, masking ``secrets``.

    Safe to call again (the handler is replaced). Celery, when it starts a worker or Beat in this
    process, keeps this setup instead of installing its own handlers and formats.
    """
    global _celery_hooked
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    _reroute(handler)
    # urllib3 logs URLs with query strings at DEBUG; keep it quiet by default.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # Tornado's (Flower's) access log would print every request line; the JSON log is enough.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    if not _celery_hooked:
        from celery.signals import setup_logging as celery_setup_logging

        # A receiver on this signal makes Celery skip its own logging setup entirely.
        celery_setup_logging.connect(_keep_ours, weak=False)
        _celery_hooked = True


def _reroute(handler: logging.Handler) -> None:
    """Celery's task loggers hand their records to the root logger (as JSON) instead of their own
    handlers. billiard's ``multiprocessing`` logger turns propagation off whenever it is reset,
    so it gets the JSON handler itself (else Python's last-resort handler prints bare text)."""
    for name in ("celery.task", "celery.redirected"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    pool = logging.getLogger("multiprocessing")
    for old in list(pool.handlers):
        pool.removeHandler(old)
    pool.addHandler(handler)
    pool.propagate = False


def _keep_ours(**_: Any) -> None:
    """Celery's ``setup_logging`` signal: keep the JSON setup made by :func:`setup_logging`."""
    root = logging.getLogger()
    if root.handlers:
        _reroute(root.handlers[0])
