"""``GET /metrics``: Prometheus text format, behind the ``ops`` credentials (Basic or Bearer).

The counters come from every hub process (see :mod:`hub.metrics`); the gauges are read at scrape
time: the depth of each queue on the broker and the open dead letters in the ledger.

This blueprint also observes every request of the front door: it counts the refusals of the
flows' endpoints, and writes one access log line per request (method, path, status, time, client;
never a header or a body), carrying the correlation id like every other line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from kombu.exceptions import ChannelError, OperationalError
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub import metrics, runtime
from hub.auth import require

bp = Blueprint("metrics", __name__)

log = logging.getLogger(__name__)
access_log = logging.getLogger("hub.access")


def metrics_dir(config: Any) -> Any:
    """Where every hub process of this config writes its metrics."""
    return config.var_dir / "metrics"


@bp.record_once
def _setup(state: Any) -> None:
    # The front door counts too (accepted and refused messages): into the shared directory.
    metrics.setup(metrics_dir(state.app.config["HUB"]))


class ScrapeTimeCollector(Collector):
    """Gauges read when Prometheus scrapes: queue depths, broker reachability, open dead letters."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from tasks.app import QUEUES, queue_depth

        depth = GaugeMetricFamily("hub_queue_depth", "Messages waiting in each broker queue",
                                  labels=["queue"])
        broker_up = 1
        for queue in QUEUES:
            try:
                depth.add_metric([queue], queue_depth(queue))
            except ChannelError:
                depth.add_metric([queue], 0)  # never declared yet: nothing has waited in it
            except (OperationalError, OSError) as exc:
                broker_up = 0
                log.warning("queue depth unreadable", extra={"queue": queue,
                                                             "error": str(exc)[:200]})
                break
        yield depth
        yield GaugeMetricFamily("hub_broker_up", "1 if the broker answered the queue-depth read",
                                value=broker_up)
        open_entries = GaugeMetricFamily("hub_dead_letters_open",
                                         "Dead letters waiting for re-queue or discard, by flow",
                                         labels=["flow"])
        for flow, count in sorted(runtime.get().ledger.count_dead_letters("OPEN").items()):
            open_entries.add_metric([flow], count)
        yield open_entries


@bp.get("/metrics")
@require("ops")
def scrape() -> Response:
    body = metrics.collect(metrics_dir(current_app.config["HUB"]), [ScrapeTimeCollector()])
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)


@bp.before_app_request
def _start_clock() -> None:
    g._hub_started = time.monotonic()
    # Once per process this switches; after that it is one comparison. (A process serving
    # several apps, as the tests do, counts each request into its own app's folder.)
    metrics.setup(metrics_dir(current_app.config["HUB"]))


@bp.after_app_request
def _observe(response: Response) -> Response:
    """Count 4xx/5xx answers of the flows' endpoints (refused messages, faults) by flow, and log
    the request."""
    started = g.pop("_hub_started", None)
    access_log.info("request", extra={
        "method": request.method, "path": request.path, "status": response.status_code,
        "elapsed_ms": round((time.monotonic() - started) * 1000) if started else None,
        "client": g.get("client")})
    if response.status_code >= 400 and request.url_rule is not None:
        from hub.flows import FLOWS

        rule = request.url_rule.rule
        for flow in FLOWS.values():
            if flow.path == rule and flow.method == request.method:
                metrics.MESSAGES_REFUSED.labels(flow=flow.name,
                                                status=str(response.status_code)).inc()
                break
    return response
