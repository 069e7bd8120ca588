"""Re-queue works for every flow with a JSON endpoint: break what it depends on, send it a message,
see its work dead-lettered, mend, re-queue its dead letters, and see its job finish SUCCEEDED.

The flows come from the registry (every ``hub/routes`` module that registers one), so a new JSON
flow is covered as soon as it exists. A flow that calls DACS or DERMS is broken by taking both
sandbox systems down, with its message from MESSAGES below or from the contract's example named
after its path (``tests/data/contract/<last part, singular>.json``); a flow that depends on
something else has its own :class:`Scenario`.
"""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import support
from conftest import Stack
from hub import metrics
from ops.ops_support import SCORE_DIR, Relay, unique, wait_job


def json_flows() -> list[str]:
    import hub.routes
    from hub.flows import FLOWS

    for info in pkgutil.iter_modules(hub.routes.__path__):
        importlib.import_module(f"hub.routes.{info.name}")
    return sorted(name for name, flow in FLOWS.items() if not flow.multipart)


@dataclass
class Context:
    stack: Stack
    sandbox: Any
    relay: Relay
    ftp_root: Path


@dataclass
class Scenario:
    """How to make a flow's work fail for good, and how to mend what it depends on."""

    body: Callable[[Context], Any]
    break_: Callable[[Context], None]
    mend: Callable[[Context], None]


def _targets_down(ctx: Context) -> None:
    ctx.sandbox.switches("dacs", down=True)
    ctx.sandbox.switches("derms", down=True)


def _targets_up(ctx: Context) -> None:
    ctx.sandbox.switches("dacs", down=False)
    ctx.sandbox.switches("derms", down=False)


#: Messages of the flows the contract gives no example file for (as their own tests send them).
MESSAGES: dict[str, dict[str, Any]] = {
    "aggregator_sync": {
        "sendDetails": {"syncRequestId": "S-A1"},
        "aggregatorInfo": {"aggregatorId": "AG1", "aggregatorCode": "ECOBEE", "name": "ecobee Inc.",
                           "status": "ACTIVE", "headEndSystem": "ECOBEE"},
        "programs": [{"programCode": "BYOT"}]},
    "program_rule_sync": {
        "sendDetails": {"syncRequestId": "S-90"},
        "programInfo": {"programId": "PG1", "programCode": "BYOT", "status": "ACTIVE"},
        "programRules": [{"ruleId": "R1", "ruleType": "MAX_EVENTS_PER_MONTH", "ruleValue": "4",
                          "unit": "EVENTS"}]},
    "event_opt_out": {
        "sendDetails": {"communicationId": "OPT-1"},
        "eventInfo": {"programEventId": "PE-1", "eventExternalIdentifier": "EV-1",
                      "externalIdentifier": "EV-1-S1", "programCode": "BYOT"},
        "preemptiveOptOut": True, "optOutDateTime": "2026-12-05T12:00:00.000Z",
        "controllableDevices": [{"nicId": "NIC9", "headEndSystem": "ECOBEE"}]},
    "device_status_ack": {
        "messageId": "M-ds", "ackType": "SUCCESS", "whenISO": "2026-12-04T10:00:00.000Z",
        "responses": [{"id": "NIC9", "value": "ONLINE", "responseCode": "SUCCESS",
                       "responseText": "", "responseTimeISO": "2026-12-04T09:59:00.000Z",
                       "dacsMessageId": "COMM-5"}]},
    "enrollment_sync_ack": {
        "messageId": "M-sa", "ackType": "SUCCESS", "whenISO": "2026-12-04T10:00:00.000Z",
        "responses": [{"id": "E-1", "value": "2001234567", "responseCode": "SUCCESS",
                       "responseText": "", "responseTimeISO": "2026-12-04T10:00:00.000Z",
                       "dacsMessageId": "S-77"}]},
}

#: the fields that make a message new to the idempotency check
_IDS = {"messageId", "syncRequestId", "communicationId", "dacsMessageId"}


def _fresh(value: Any, suffix: str) -> Any:
    """The message with every id made unique, so no earlier run's answer is replayed."""
    if isinstance(value, dict):
        return {k: (f"{v}-{suffix}" if k in _IDS and isinstance(v, str) else _fresh(v, suffix))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v, suffix) for v in value]
    return value


def _example_for(flow_name: str) -> Callable[[Context], Any]:
    """The flow's message: from MESSAGES, or the contract's example named after its path."""
    from hub.flows import FLOWS

    stem = FLOWS[flow_name].path.rstrip("/").rsplit("/", 1)[1]
    name = (stem[:-1] if stem.endswith("s") else stem) + ".json"

    def body(_: Context) -> Any:
        suffix = unique("m")
        if flow_name in MESSAGES:
            return _fresh(MESSAGES[flow_name], suffix)
        path = support.EXAMPLES / name
        if not path.exists():
            pytest.fail(f"flow {flow_name}: no message to send; add one to MESSAGES in "
                        f"tests/ops/test_requeue_flows.py (or the example {path})")
        return _fresh(support.example(name), suffix)

    return body


def _score_dir_missing(ctx: Context) -> None:
    assert not (ctx.ftp_root / SCORE_DIR).exists()


def _score_dir_with_a_file(ctx: Context) -> None:
    folder = ctx.ftp_root / SCORE_DIR
    folder.mkdir()
    (folder / f"DeviceScore_{unique('f')}.csv").write_text("nicId,score\nNIC9,87\n")


SCENARIOS: dict[str, Scenario] = {
    # The error handler's own job fails when the mail relay is down.
    "common_errors": Scenario(
        body=lambda ctx: {"flow": "enrollment_sync", "jobId": "J-relay", "step": "x.y",
                          "downstreamStatus": 500, "downstreamMessage": "boom"},
        break_=lambda ctx: ctx.relay.stop(), mend=lambda ctx: ctx.relay.start()),
    # Device Score fails when its input folder on DACS's file server is missing.
    "device_score": Scenario(body=lambda ctx: {"source": "ftp"}, break_=_score_dir_missing,
                             mend=_score_dir_with_a_file),
}


def scenario(flow_name: str) -> Scenario:
    return SCENARIOS.get(flow_name) or Scenario(body=_example_for(flow_name),
                                                break_=_targets_down, mend=_targets_up)


#: Flows whose re-queued work does not finish their job yet; strict, so a fix shows as XPASS.
@pytest.mark.parametrize("flow_name", json_flows())
def test_every_json_flow_can_be_requeued_to_success(
        flow_name: str, ops: Stack, sandbox_control: Any, ops_relay: Relay,
        ops_ftp: Any) -> None:
    from hub.flows import FLOWS

    flow = FLOWS[flow_name]
    ctx = Context(ops, sandbox_control, ops_relay, ops_ftp.root)
    plan = scenario(flow_name)
    job_id = unique(f"rq-{flow_name}")
    plan.break_(ctx)
    try:
        response = ops.post(flow.path, as_client=flow.client, json=plan.body(ctx),
                            headers={"X-Correlation-ID": job_id})
        assert response.status_code < 500 or response.status_code in (502, 504), \
            response.get_data(as_text=True)
        support.wait_for(lambda: ops.ledger.list_dead_letters(job_id=job_id), 60,
                         what=f"{flow_name}'s work to be dead-lettered")
        job = wait_job(ops, job_id, "FAILED", timeout=60)
    finally:
        plan.mend(ctx)
    # Every open entry of this job, through the HTTP API, as ops would.
    listed = ops.get("/api/v1/failed", query_string={"flow": flow_name}).get_json()["failed"]
    mine = [d for d in listed if d["jobId"] == job_id]
    assert mine and all(d["flow"] == flow_name for d in mine)
    for entry in mine:
        answer = ops.post(f"/api/v1/failed/{entry['id']}/requeue", as_client="ops")
        assert answer.status_code == 202, answer.get_data(as_text=True)
    # (a known gap fails fast: the job would have finished within seconds)
    job = wait_job(ops, job_id, "SUCCEEDED", timeout=15)
    assert job["errors"] == []
    assert ops.ledger.list_dead_letters(job_id=job_id) == []  # nothing open for it any more


def test_a_failed_segment_is_requeued_alone_and_finishes_its_file_job(
        ops: Stack, sandbox_control: Any) -> None:
    """Event Device Outcome: 3 rows in segments of 2; DACS refuses one segment's post. DERMS
    gets a FAILURE ack; the segment is re-queued; it alone is posted again; DERMS then gets a
    SUCCESS ack and the job is SUCCEEDED, as if it had not failed."""
    message = {"messageId": unique("M-out"), "drmsInstanceId": "DERMS1",
               "fileName": "outcomes.csv"}
    content = (support.EXAMPLES / "event-device-outcome.csv").read_bytes()
    sandbox_control.fail("dacs", "post_event_outcome", status=400, times=1,
                         body={"status": "VAL-ERROR", "messageNbr": "10001",
                               "messageCategory": "11011", "message": "event locked"})
    before = metrics.collect(ops.config.var_dir / "metrics").decode()
    response = ops.post("/api/v1/derms/event-device-outcomes", as_client="derms",
                        data={"message": json.dumps(message),
                              "file": (io.BytesIO(content), "outcomes.csv", "text/csv")},
                        content_type="multipart/form-data")
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["jobId"]
    wait_job(ops, job_id, "FAILED")
    chunks = ops.ledger.get_chunks(job_id)
    assert len(chunks) == 2 and sorted(c["status"] for c in chunks) == ["DONE", "FAILED"]
    failed_seq = next(c["seq"] for c in chunks if c["status"] == "FAILED")
    [entry] = ops.ledger.list_dead_letters(job_id=job_id)
    assert entry["input"]["kwargs"]["seq"] == failed_seq

    def acks() -> list[str]:
        return [c["json"]["ackType"]
                for c in sandbox_control.calls(system="derms", op="event_outcome_ack")]

    assert support.wait_for(acks, what="the FAILURE ack") == ["FAILURE"]
    posts = len(sandbox_control.calls(system="dacs", op="post_event_outcome"))

    answer = ops.post(f"/api/v1/failed/{entry['id']}/requeue", as_client="ops")
    assert answer.status_code == 202, answer.get_data(as_text=True)
    job = wait_job(ops, job_id, "SUCCEEDED")
    assert (job["done"], job["total"]) == (2, 2)
    assert [c["status"] for c in ops.ledger.get_chunks(job_id)] == ["DONE", "DONE"]
    assert len(sandbox_control.calls(system="dacs", op="post_event_outcome")) == posts + 1
    assert support.wait_for(lambda: len(acks()) == 2 and acks(), what="the SUCCESS ack") == \
        ["FAILURE", "SUCCESS"]
    requeued = [e for e in ops.ledger.job_events(job_id) if e["name"] == "requeued"]
    assert requeued and requeued[0]["detail"]["segment"] == failed_seq
    # each segment run was timed: two in the first pass, one re-queued
    after = metrics.collect(ops.config.var_dir / "metrics").decode()

    def segments_timed(text: str) -> float:
        found = re.search(r'^hub_segment_seconds_count\{flow="event_device_outcome"\} (\S+)$',
                          text, re.M)
        return float(found.group(1)) if found else 0.0

    assert segments_timed(after) - segments_timed(before) == 3
