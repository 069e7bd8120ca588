"""Program Rule Sync (DACS -> DERMS), and its internal ack back to DACS.

* ``program_rule_sync.send`` calls DERMS ``/update-program``. On DERMS's 200 it enqueues the ack
  and returns, so the door answers DACS 200 at once. Any error is the door's 502 fault, the dead
  letter and the error email, and no ack.
* ``program_rule_sync.ack`` PATCHes the DACS Sync Request with DERMS's answer. It runs as a job of
  its own, ``<job id>.ack``, so its outcome (and a dead letter to re-queue) shows on its own.
"""

from __future__ import annotations

from typing import Any

from mappings import program_rule_sync as mapping
from tasks._sync_request_ack import enqueue_ack, send_ack
from tasks.app import celery_app
from tasks.base import HubTask, call


@celery_app.task(bind=True, base=HubTask, name="program_rule_sync.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    answer = call("derms", "update_program", json=mapping.to_derms(message))
    enqueue_ack(ack, mapping.FLOW, job_id, mapping.message_id(message), answer)
    return {"status": 200, "body": mapping.answer(message)}


@celery_app.task(bind=True, base=HubTask, name="program_rule_sync.ack", flow=mapping.FLOW)
def ack(self: HubTask, sync_request_id: str, derms_answer: Any, job_id: str) -> dict[str, Any]:
    return send_ack(sync_request_id, derms_answer)
