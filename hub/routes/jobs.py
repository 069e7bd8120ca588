"""Job status: ``GET /api/v1/jobs/{id}`` and ``GET /api/v1/jobs``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from hub import runtime
from hub.auth import require
from hub.errors import ApiError
from hub.ledger import iso, parse_iso

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")


def job_document(job: dict[str, Any]) -> dict[str, Any]:
    """The contract's job shape."""
    return {"jobId": job["id"], "flow": job["flow"], "status": job["status"],
            "progress": {"done": job["done"], "total": job["total"]},
            "result": job["result"], "errors": job["errors"] or [],
            "createdAt": iso(job["created_at"]), "updatedAt": iso(job["updated_at"])}


def time_filter(value: Any, name: str = "since") -> dt.datetime | None:
    """A time filter (``name`` is the field a 400 names)."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_iso(value)
    except ValueError as exc:
        raise ApiError(400, "Bad filter", f"{name} must be an ISO 8601 time",
                       {name: ["must be an ISO 8601 time"]}) from exc


@bp.get("/<job_id>")
@require("dacs", "derms", "ops")
def get_job(job_id: str) -> Response:
    job = runtime.get().ledger.get_job(job_id)
    # Another client's job is "not found", not "forbidden": ids are not to be probed.
    if job is None or (g.client != "ops" and job["client"] != g.client):
        raise ApiError(404, "Not found", f"no job {job_id}")
    return jsonify(job_document(job))


@bp.get("")
@require("dacs", "derms", "ops")
def list_jobs() -> Response:
    try:
        limit = min(int(request.args.get("limit", 100)), 1000)
    except ValueError as exc:
        raise ApiError(400, "Bad filter", "limit must be a number", {"limit": ["not a number"]}) from exc
    rows = runtime.get().ledger.list_jobs(
        flow=request.args.get("flow"), status=request.args.get("status"),
        since=time_filter(request.args.get("since")), limit=limit,
        client=None if g.client == "ops" else g.client)
    return jsonify({"jobs": [job_document(r) for r in rows]})
