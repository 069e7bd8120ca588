"""Structured logging: JSON lines carrying the correlation id, the flow and the job.

The correlation id lives in a context variable, set by the front door per request and by the task
base class per task, so every log line and every outbound call carries it without threading it
through every function. Configured secrets are masked in every line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["bind", "current_correlation_id", "current_flow", "setup_logging", "JsonFormatter"]

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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlationId, flow, jobId, extras."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlationId": _correlation.get(),
            "jobId": _correlation.get(),
            "flow": _flow.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        line = json.dumps(payload, default=str)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


JsonFormatter.converter = __import__("time").gmtime  # type: ignore[assignment]


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Send every logger's records to stderr as JSON lines, masking ``secrets``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs URLs with query strings at DEBUG; keep it quiet by default.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
