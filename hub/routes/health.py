"""Liveness and readiness. The only endpoints without auth (contract)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from hub import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


def check_broker() -> str | None:
    from tasks.app import celery_app

    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; we say which
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


def check_ledger() -> str | None:
    try:
        runtime.get().ledger.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; we say which
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


@bp.get("/readyz")
def readyz() -> Response:
    checks = {"broker": check_broker(), "ledger": check_ledger()}
    ready = all(v is None for v in checks.values())
    response = jsonify({"status": "ready" if ready else "not ready",
                        "checks": {k: v or "ok" for k, v in checks.items()}})
    response.status_code = 200 if ready else 503
    return response
