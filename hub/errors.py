"""problem+json (RFC 9457) for every error the front door gives, and the typed errors behind them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, json
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

__all__ = ["ApiError", "problem", "flatten_errors", "install_error_handlers"]

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 409: "conflict", 413: "payload-too-large",
          415: "unsupported-media-type", 500: "internal-error", 502: "downstream-fault",
          503: "unavailable", 504: "timeout"}


class ApiError(Exception):
    """An error answered as problem+json. ``errors`` maps a field path to its messages."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 errors: Mapping[str, list[str]] | None = None, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"a.b.0.c": ["..."]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "body"
            flat.update(flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat.setdefault(prefix or "body", []).extend(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat.setdefault(prefix or "body", []).append(str(messages))
    return flat


def problem(status: int, title: str, detail: str | None = None,
            errors: Mapping[str, list[str]] | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": f"https://hub.example/problems/{_TYPES.get(status, 'error')}",
        "title": title, "status": status, "detail": detail or title,
        "correlationId": getattr(g, "correlation_id", None),
    }
    if errors:
        body["errors"] = dict(errors)
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem(exc.status, exc.title, exc.detail, exc.errors, exc.headers, **exc.extra)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return problem(400, "Invalid message", "the message does not match the flow's schema",
                       flatten_errors(exc.messages))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description
        if status == 413:
            detail = f"the body is larger than upload.max.bytes ({app.config['MAX_CONTENT_LENGTH']} bytes)"
        headers = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return problem(status, exc.name, detail, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The client gets the correlation id, never the stack trace; the log gets both.
        log.exception("unexpected error in the front door")
        return problem(500, "Internal error", "the hub failed to handle this request; "
                       "quote the correlation id to the operators")
