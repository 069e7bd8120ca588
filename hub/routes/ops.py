"""The ops pages at ``/ops``: jobs, one job's timeline, failed work, the schedule and health.

Server-rendered (Jinja, ``hub/templates/ops``), a little JavaScript (``hub/static/ops``), no build
step. Behind the ``ops`` credentials: without them the answer is ``401`` with
``WWW-Authenticate: Basic``, so the browser shows its login prompt; another client gets ``403``.

The buttons (re-queue, discard, bulk re-queue) are POST forms. A browser sends Basic credentials
with every request to the hub, even one a hostile page makes it send, so every POST must carry a
CSRF token: an HMAC of the request's own ``Authorization`` header (the token cannot be computed
without the credentials, and another site cannot read our pages to copy it), compared in constant
time. A POST that a browser marks ``Sec-Fetch-Site: cross-site`` is refused as well. The pages
also forbid framing (``frame-ancestors 'none'``), so a button cannot be clicked through a frame.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from hub import requeue as rq
from hub import runtime
from hub.auth import identify
from hub.ledger import JobStatus, iso, utcnow

_HERE = Path(__file__).resolve().parent.parent
bp = Blueprint("ops", __name__, url_prefix="/ops", template_folder=str(_HERE / "templates"),
               static_folder=str(_HERE / "static" / "ops"), static_url_path="/static")

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED)
_NOTICES = {"requeued": "Re-queued", "discarded": "Discarded", "bulk": "Bulk re-queue done"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# -- auth and CSRF ----------------------------------------------------------------------------
def _page(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(render_template("ops/error.html", title=title, detail=detail,
                                        status=status), status=status, mimetype="text/html")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def csrf_token() -> str:
    """The token the forms of this page carry: bound to the credentials of this request."""
    authorization = request.headers.get("Authorization", "")
    return hmac.new(authorization.encode(), b"hub-ops-csrf-v1", hashlib.sha256).hexdigest()


def ops_only(view: F) -> F:
    """401 with a Basic challenge without valid credentials, 403 for a client other than ops."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        client = identify(current_app.config["HUB"], request.headers.get("Authorization"))
        if client is None:
            return _page(401, "Sign in", "The ops pages need the ops credentials.",
                         {"WWW-Authenticate": 'Basic realm="hub ops", charset="UTF-8"'})
        if client != "ops":
            return _page(403, "Forbidden", f"The {client} client may not use the ops pages.")
        g.client = client
        if request.method == "POST":
            given = request.form.get("csrf_token", "")
            if request.headers.get("Sec-Fetch-Site") == "cross-site" or \
                    not hmac.compare_digest(given, csrf_token()):
                log.warning("ops form refused: bad or missing CSRF token")
                return _page(403, "Forbidden", "This form came from elsewhere, or the page is "
                                               "stale: reload the page and try again.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.after_request
def _harden(response: Response) -> Response:
    for key, value in _SECURITY_HEADERS.items():
        response.headers[key] = value
    return response


@bp.app_template_filter("when")
def _when(moment: dt.datetime | None) -> str:
    text = iso(moment)
    return text.replace("T", " ")[:19] + "Z" if text else ""


@bp.app_template_filter("pretty")
def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@bp.context_processor
def _common() -> dict[str, Any]:
    signed_in = g.get("client") == "ops"
    # Nothing from the ledger on a 401/403 page: the count is for ops only.
    return {"csrf_token": csrf_token, "signed_in": signed_in, "open_failed": sum(
        runtime.get().ledger.count_dead_letters("OPEN").values()) if signed_in else 0}


def _flows() -> list[str]:
    from hub.flows import FLOWS

    return sorted(FLOWS)


def _notice() -> str | None:
    done = request.args.get("done")
    if done not in _NOTICES:
        return None
    text = _NOTICES[done]
    if request.args.get("n"):
        text += f": {request.args.get('n', type=int) or 0} entr(ies)"
    if request.args.get("id"):
        text += f" {request.args['id'][:64]}"
    return text


def _back(default: str, **query: Any) -> Response:
    """Post/redirect/get: back to the page the form was on (only an /ops page)."""
    target = request.form.get("next") or default
    if not target.startswith("/ops") or target.startswith("//"):
        target = default
    query = {k: v for k, v in query.items() if v is not None}
    separator = "&" if "?" in target else "?"
    return redirect(target + (separator + urlencode(query) if query else ""), code=303)


# -- jobs -------------------------------------------------------------------------------------
@bp.get("/", strict_slashes=False)  # /ops and /ops/, without a redirect
@bp.get("/jobs")
@ops_only
def jobs() -> str:
    flow = request.args.get("flow") or None
    status = request.args.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    limit = max(1, min(request.args.get("limit", 200, type=int) or 200, 2000))
    rows = runtime.get().ledger.list_jobs(flow=flow, status=status, limit=limit)
    return render_template("ops/jobs.html", jobs=rows, flow=flow, status=status, flows=_flows(),
                           statuses=STATUSES, limit=limit, notice=_notice())


@bp.get("/jobs/<job_id>")
@ops_only
def job(job_id: str) -> Response | str:
    ledger = runtime.get().ledger
    row = ledger.get_job(job_id)
    if row is None:
        return _page(404, "Not found", f"No job {job_id}.")
    events = ledger.job_events(job_id)
    return render_template(
        "ops/job.html", job=row, events=events, chunks=ledger.get_chunks(job_id),
        calls=[e for e in events if e["kind"] == "call"],
        failed=ledger.list_dead_letters(job_id=job_id, status=None, limit=1000),
        finished=row["status"] in JobStatus.FINISHED, notice=_notice())


# -- failed work ------------------------------------------------------------------------------
@bp.get("/failed")
@ops_only
def failed() -> str:
    flow = request.args.get("flow") or None
    status = (request.args.get("status") or "OPEN").upper()
    if status not in ("OPEN", "REQUEUED", "DISCARDED", "ALL"):
        status = "OPEN"
    rows = runtime.get().ledger.list_dead_letters(flow=flow, status=None if status == "ALL"
                                                  else status, limit=1000)
    return render_template("ops/failed.html", entries=rows, flow=flow, status=status,
                           flows=_flows(), notice=_notice())


@bp.get("/failed/<entry_id>")
@ops_only
def failed_entry(entry_id: str) -> Response | str:
    entry = runtime.get().ledger.get_dead_letter(entry_id)
    if entry is None:
        return _page(404, "Not found", f"No failed entry {entry_id}.")
    return render_template("ops/failed_entry.html", entry=entry, notice=_notice())


@bp.post("/failed/<entry_id>/requeue")
@ops_only
def requeue(entry_id: str) -> Response:
    try:
        rq.requeue(runtime.get().ledger, entry_id, by="ops-page")
    except rq.DeadLetterNotFound:
        return _page(404, "Not found", f"No failed entry {entry_id}.")
    except rq.AlreadyResolved as exc:
        return _page(409, "Already done", f"{exc}. Someone got there first; nothing was sent.")
    except rq.EnqueueFailed as exc:
        return _page(503, "Broker unavailable", f"{exc}. The entry is still open; try again.")
    return _back(url_for("ops.failed"), done="requeued", id=entry_id)


@bp.post("/failed/<entry_id>/discard")
@ops_only
def discard(entry_id: str) -> Response:
    try:
        rq.discard(runtime.get().ledger, entry_id, by="ops-page")
    except rq.DeadLetterNotFound:
        return _page(404, "Not found", f"No failed entry {entry_id}.")
    except rq.AlreadyResolved as exc:
        return _page(409, "Already done", f"{exc}. Nothing was changed.")
    return _back(url_for("ops.failed"), done="discarded", id=entry_id)


@bp.post("/failed/requeue")
@ops_only
def requeue_bulk() -> Response:
    flow = request.form.get("flow") or None
    result = rq.requeue_many(runtime.get().ledger, flow=flow, by="ops-page")
    if result.failed:
        return _page(503, "Broker unavailable",
                     f"Re-queued {len(result.requeued)}; the broker refused the next one "
                     f"({result.failed[0]['error']}). The rest are still open.")
    return _back(url_for("ops.failed"), done="bulk", n=str(len(result.requeued)))


# -- schedule ---------------------------------------------------------------------------------
def describe_schedule(schedule: Any) -> str:
    """A person's reading of a Beat schedule: ``cron */15 * * * *`` or ``every 60 s``."""
    from celery.schedules import crontab

    if isinstance(schedule, (int, float)):
        return f"every {schedule:g} s"
    if isinstance(schedule, dt.timedelta):
        return f"every {schedule.total_seconds():g} s"
    if isinstance(schedule, crontab):
        fields = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        return "cron " + " ".join(str(getattr(schedule, f"_orig_{f}", "?")) for f in fields) + \
            " (UTC)"
    return str(schedule)


def schedule_rows() -> list[dict[str, Any]]:
    """Every Beat entry with its last run (from the ledger, written by hub beat) and next run."""
    import beat_schedule
    from celery.schedules import crontab, maybe_schedule

    from tasks.app import celery_app

    config = runtime.get().config
    runs = runtime.get().ledger.schedule_runs()
    now = utcnow()
    rows = []
    for name, entry in beat_schedule.build(config).items():
        schedule = maybe_schedule(entry["schedule"], app=celery_app)
        run = runs.get(name)
        last = run["last_run_at"] if run else None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        if last is not None:
            upcoming: dt.datetime | None = now + schedule.remaining_estimate(last)
        elif isinstance(schedule, crontab):
            upcoming = now + schedule.remaining_estimate(now)
        else:
            upcoming = None  # an interval entry first runs one interval after Beat starts
        if upcoming is not None:
            # celery works in whole seconds: round up, so */15 reads 10:15:00, not 10:14:59
            upcoming = (upcoming + dt.timedelta(microseconds=999_999)).replace(microsecond=0)
        rows.append({"name": name, "task": entry["task"],
                     "schedule": describe_schedule(entry["schedule"]), "last": last,
                     "runs": run["runs"] if run else 0,
                     "next": max(upcoming, now) if upcoming else None,
                     "due": upcoming is not None and upcoming <= now,
                     "kwargs": entry.get("kwargs") or {}})
    return rows


@bp.get("/schedule")
@ops_only
def schedule() -> str:
    lock = runtime.get().ledger.get_claim("beat", "lock")
    if lock is not None:
        expires = lock["expires_at"]
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        lock = {**lock, "live": expires > utcnow()}
    return render_template("ops/schedule.html", rows=schedule_rows(), lock=lock)


# -- health -----------------------------------------------------------------------------------
PROBE_TIMEOUT = 5.0


def _probe(target: Any, url: str, method: str = "GET") -> tuple[int | None, str, float]:
    """One short request with the target's credentials: ``(status, problem, seconds)``."""
    import requests

    started = time.monotonic()
    headers = {"Accept": "application/json", "X-Correlation-ID": g.get("correlation_id") or ""}
    try:
        if target.oauth is not None:
            headers["Authorization"] = "Bearer " + target.oauth.get(target.session, target.name)
        response = target.session.request(method, url, headers=headers, auth=target.basic,
                                          timeout=min(PROBE_TIMEOUT, target.timeout))
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: unreachable", time.monotonic() - started
    except Exception as exc:  # noqa: BLE001 - a token error etc.: shown on the page, not raised
        return None, f"{type(exc).__name__}: {str(exc)[:200]}", time.monotonic() - started
    return response.status_code, "", time.monotonic() - started


def health_rows() -> list[dict[str, Any]]:
    """Broker, ledger, workers, DACS (its health_check op) and DERMS (reachable: a GET on its
    base URL answered below 500; DERMS has no health operation)."""
    from hub.routes.health import check_broker, check_ledger

    rows: list[dict[str, Any]] = []
    for name, check in (("Broker", check_broker), ("Ledger", check_ledger)):
        started = time.monotonic()
        problem = check()
        rows.append({"name": name, "ok": problem is None, "detail": problem or "reachable",
                     "ms": round((time.monotonic() - started) * 1000)})
    rows.append(_workers())
    current = runtime.get()
    for name, op in (("DACS", "health_check"), ("DERMS", None)):
        try:
            target = getattr(current, name.lower())
        except ValueError as exc:  # the base URL is not configured
            rows.append({"name": name, "ok": False, "detail": str(exc), "ms": None})
            continue
        url = target.url(op) if op else target.base_url
        status, problem, seconds = _probe(target, url)
        ok = status is not None and (200 <= status < 300 if op else status < 500)
        parts = urlsplit(url)
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no userinfo
        detail = problem or f"GET {shown} -> HTTP {status}"
        rows.append({"name": name, "ok": ok, "detail": detail, "ms": round(seconds * 1000)})
    return rows


def _workers() -> dict[str, Any]:
    from tasks.app import celery_app

    started = time.monotonic()
    try:
        answers = celery_app.control.ping(timeout=1.0) or []
    except Exception as exc:  # noqa: BLE001 - the broker's own row says why; shown, not raised
        return {"name": "Workers", "ok": False, "detail": f"{type(exc).__name__}: {exc}"[:200],
                "ms": round((time.monotonic() - started) * 1000)}
    names = sorted(name for answer in answers for name in answer)
    return {"name": "Workers", "ok": bool(names),
            "detail": ", ".join(names) if names else "no worker answered a ping within 1 s",
            "ms": round((time.monotonic() - started) * 1000)}


@bp.get("/health")
@ops_only
def health() -> str:
    return render_template("ops/health.html", rows=health_rows())
