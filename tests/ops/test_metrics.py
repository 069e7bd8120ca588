"""`/metrics`: Prometheus text with the door's and the workers' counters, and scrape-time gauges."""

from __future__ import annotations

from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

import support
from conftest import Stack
from ops.ops_support import OPS_TOKEN, WebServer, enrollment_sync_message, unique, wait_job


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(web: WebServer) -> dict[Any, float]:
    response = requests.get(f"{web.url}/metrics", auth=support.CREDENTIALS["ops"], timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(response.text)


def test_metrics_count_what_the_door_and_the_workers_did(
        ops: Stack, web: WebServer, sandbox_control: Any) -> None:
    before = scrape(web)
    # One success after two transient errors, and one business error (a dead letter), through
    # the real `hub web`: the counts come from the web process and from the worker processes.
    sandbox_control.fail("derms", "enroll", status=503, times=2)
    ok = requests.post(f"{web.url}/api/v1/dacs/enrollment-syncs", auth=support.CREDENTIALS["dacs"],
                       json=enrollment_sync_message(unique("S-m")), timeout=30)
    assert ok.status_code == 200, ok.text
    sandbox_control.fail("derms", "enroll", status=422, times=1, body={"message": "no"})
    job_id = unique("metrics-fail")
    bad = requests.post(f"{web.url}/api/v1/dacs/enrollment-syncs", auth=support.CREDENTIALS["dacs"],
                        json=enrollment_sync_message(f"S-{job_id}"), timeout=30,
                        headers={"X-Correlation-ID": job_id})
    assert bad.status_code == 502
    wait_job(ops, job_id, "FAILED")
    after = scrape(web)

    def grew(name: str, by: float, **labels: str) -> None:
        delta = value(after, name, **labels) - value(before, name, **labels)
        assert delta == by, (name, labels, delta)

    grew("hub_messages_accepted_total", 2, flow="enrollment_sync")
    grew("hub_messages_refused_total", 1, flow="enrollment_sync", status="502")
    grew("hub_outbound_calls_total", 2, target="derms", op="enroll", status="503")
    grew("hub_outbound_calls_total", 1, target="derms", op="enroll", status="200")
    grew("hub_outbound_calls_total", 1, target="derms", op="enroll", status="422")
    grew("hub_task_retries_total", 2, task="enrollment_sync.send")
    grew("hub_dead_letters_total", 1, flow="enrollment_sync")
    assert value(after, "hub_dead_letters_open", flow="enrollment_sync") >= 1
    assert value(after, "hub_broker_up") == 1
    for queue in ("hub", "hub.files", "hub.mail"):
        assert ("hub_queue_depth", frozenset({("queue", queue)})) in after

    # A re-queue is counted too (here from the in-process door: the same folder).
    entry = ops.ledger.list_dead_letters(job_id=job_id)[0]
    assert ops.post(f"/api/v1/failed/{entry['id']}/requeue", as_client="ops").status_code == 202
    wait_job(ops, job_id, "SUCCEEDED")
    assert value(scrape(web), "hub_requeues_total", flow="enrollment_sync") == \
        value(after, "hub_requeues_total", flow="enrollment_sync") + 1


def test_queue_depth_is_read_at_scrape_time(door: Stack) -> None:
    """The door alone (no worker): what it enqueues waits, and /metrics counts it."""
    def depth() -> dict[str, float]:
        found = samples(door.get("/metrics").get_data(as_text=True))
        return {q: value(found, "hub_queue_depth", queue=q) for q in ("hub", "hub.mail")}

    assert depth() == {"hub": 0, "hub.mail": 0}
    report = {"flow": "enrollment_sync", "step": "enrollment_sync.send", "jobId": "J-1"}
    for _ in range(3):
        assert door.post("/api/v1/common/errors", as_client="ops", json=report).status_code == 202
    assert depth() == {"hub": 0, "hub.mail": 3}  # the error handler's own queue


def test_metrics_need_the_ops_credentials(ops: Stack) -> None:
    assert ops.client.get("/metrics").status_code == 401
    assert ops.get("/metrics", as_client="dacs").status_code == 403
    bearer = ops.client.get("/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert bearer.status_code == 200 and b"hub_queue_depth" in bearer.data
