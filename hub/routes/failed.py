"""Failed work (the dead-letter ledger) over HTTP. Only the ``ops`` client (contract: Operations).

* ``GET /api/v1/failed``: OPEN entries, newest first; filters ``flow``, ``since``, ``until``,
  ``status`` (``OPEN`` by default, or ``REQUEUED``, ``DISCARDED``, ``all``), ``limit``.
* ``GET /api/v1/failed/{id}``: one entry, with its stored input.
* ``POST /api/v1/failed/{id}/requeue``: run its step again; ``202``, or ``409`` if it was already
  re-queued or discarded, ``503`` if the broker did not take it (the entry stays OPEN).
* ``POST /api/v1/failed/requeue`` with ``{"flow", "since", "until"}`` (each optional): many.
* ``POST /api/v1/failed/{id}/discard``: ``200``, or ``409`` the second time.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from hub import requeue as rq
from hub import runtime
from hub.auth import require
from hub.errors import ApiError
from hub.intake import read_json
from hub.routes.jobs import time_filter

bp = Blueprint("failed", __name__, url_prefix="/api/v1/failed")

STATUSES = ("OPEN", "REQUEUED", "DISCARDED")


def _status_filter(value: str | None) -> str | None:
    if value is None:
        return "OPEN"
    wanted = value.strip().upper()
    if wanted == "ALL":
        return None
    if wanted not in STATUSES:
        raise ApiError(400, "Bad filter", "status must be OPEN, REQUEUED, DISCARDED or all",
                       {"status": [f"one of {', '.join(STATUSES)}, all"]})
    return wanted


def _limit(value: str | None) -> int:
    try:
        return max(1, min(int(value or 500), 5000))
    except ValueError as exc:
        raise ApiError(400, "Bad filter", "limit must be a number",
                       {"limit": ["not a number"]}) from exc


def _entry_or_404(entry_id: str) -> dict[str, Any]:
    entry = runtime.get().ledger.get_dead_letter(entry_id)
    if entry is None:
        raise ApiError(404, "Not found", f"no failed entry {entry_id}")
    return entry


def _conflict(exc: rq.AlreadyResolved) -> ApiError:
    return ApiError(409, "Already resolved", str(exc),
                    extra={"id": exc.entry_id, "entryStatus": exc.status})


@bp.get("")
@require("ops")
def list_failed() -> Response:
    rows = runtime.get().ledger.list_dead_letters(
        flow=request.args.get("flow") or None,
        since=time_filter(request.args.get("since"), "since"),
        until=time_filter(request.args.get("until"), "until"),
        status=_status_filter(request.args.get("status")),
        limit=_limit(request.args.get("limit")))
    items = [rq.dead_letter_document(r) for r in rows]
    return jsonify({"failed": items, "count": len(items)})


@bp.get("/<entry_id>")
@require("ops")
def get_failed(entry_id: str) -> Response:
    document = rq.dead_letter_document(_entry_or_404(entry_id), with_input=True)
    if document["jobId"]:
        document["jobUrl"] = url_for("jobs.get_job", job_id=document["jobId"])
    return jsonify(document)


@bp.post("/<entry_id>/requeue")
@require("ops")
def requeue_failed(entry_id: str) -> Response:
    try:
        done = rq.requeue(runtime.get().ledger, entry_id, by="api")
    except rq.DeadLetterNotFound as exc:
        raise ApiError(404, "Not found", f"no failed entry {entry_id}") from exc
    except rq.AlreadyResolved as exc:
        raise _conflict(exc) from exc
    except rq.EnqueueFailed as exc:
        raise ApiError(503, "Broker unavailable", f"{exc}; the entry is still OPEN",
                       headers={"Retry-After": "30"}) from exc
    body = done.as_dict()
    if done.job_id:
        body["statusUrl"] = url_for("jobs.get_job", job_id=done.job_id)
    response = jsonify(body)
    response.status_code = 202
    return response


@bp.post("/requeue")
@require("ops")
def requeue_failed_many() -> Response:
    # A body is required, even ``{}`` (every flow, any time): an empty POST re-queues nothing.
    data = read_json()
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid message", "the body must be a JSON object",
                       {"body": ["must be a JSON object"]})
    unknown = sorted(set(data) - {"flow", "since", "until"})
    if unknown:
        raise ApiError(400, "Invalid message", "unknown fields: " + ", ".join(unknown),
                       {k: ["unknown field"] for k in unknown})
    flow = data.get("flow")
    if flow is not None and (not isinstance(flow, str) or not flow.strip()):
        raise ApiError(400, "Invalid message", "flow must be a flow name",
                       {"flow": ["must be a flow name"]})
    result = rq.requeue_many(runtime.get().ledger, flow=flow,
                             since=time_filter(data.get("since"), "since"),
                             until=time_filter(data.get("until"), "until"), by="api")
    response = jsonify(result.as_dict())
    response.status_code = 503 if result.failed else 200
    return response


@bp.post("/<entry_id>/discard")
@require("ops")
def discard_failed(entry_id: str) -> Response:
    try:
        rq.discard(runtime.get().ledger, entry_id, by="api")
    except rq.DeadLetterNotFound as exc:
        raise ApiError(404, "Not found", f"no failed entry {entry_id}") from exc
    except rq.AlreadyResolved as exc:
        raise _conflict(exc) from exc
    return jsonify({"id": entry_id, "status": "DISCARDED"})
