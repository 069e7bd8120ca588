"""Aggregator Sync (DACS -> DERMS), and its internal ack back to DACS.

The same two steps as Program Rule Sync (``tasks/program_rule_sync.py``; both use
``tasks/_sync_request_ack.py``), with DERMS ``/update-aggregator``: ``aggregator_sync.send``
answers DACS 200 once DERMS took it and enqueues ``aggregator_sync.ack`` (its own job,
``<job id>.ack``), which PATCHes the DACS Sync Request.
"""

from __future__ import annotations

from typing import Any

from mappings import aggregator_sync as mapping
from tasks._sync_request_ack import enqueue_ack, send_ack
from tasks.app import celery_app
from tasks.base import HubTask, call


@celery_app.task(bind=True, base=HubTask, name="aggregator_sync.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    answer = call("derms", "update_aggregator", json=mapping.to_derms(message))
    enqueue_ack(ack, mapping.FLOW, job_id, mapping.message_id(message), answer)
    return {"status": 200, "body": mapping.answer(message)}


@celery_app.task(bind=True, base=HubTask, name="aggregator_sync.ack", flow=mapping.FLOW)
def ack(self: HubTask, sync_request_id: str, derms_answer: Any, job_id: str) -> dict[str, Any]:
    return send_ack(sync_request_id, derms_answer)
