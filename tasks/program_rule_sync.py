"""Program Rule Sync (DACS -> DERMS), and its internal ack back to DACS.

* ``program_rule_sync.send`` calls DERMS ``/update-program``. On DERMS's 200 it enqueues the ack
  and returns, so the door answers DACS 200 at once. Any error is the door's 502 fault, the dead
  letter and the error email, and no ack.
* ``program_rule_sync.ack`` PATCHes the DACS Sync Request with DERMS's answer. It runs as a job of
  its own, ``<job id>.ack``, so its outcome (and a dead letter to re-queue) shows on its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import Task

from hub import runtime
from mappings import program_rule_sync as mapping
from tasks.app import celery_app
from tasks.base import HubTask, call


def enqueue_ack(ack_task: Task, flow: str, job_id: str, sync_request_id: str,
                derms_answer: Any) -> str:
    """Record the ack's own job and send its task; returns the ack's job id.

    A redelivered first step finds the ack job there and sends nothing twice.
    """
    ledger = runtime.get().ledger
    ack_job_id = f"{job_id}.ack"
    existing = ledger.get_job(ack_job_id)
    if existing is not None:
        if existing["flow"] == flow and existing["message_id"] == sync_request_id:
            return ack_job_id
        # A caller's correlation id took the name: never skip the ack for that.
        ack_job_id = f"{job_id}.ack.{uuid.uuid4().hex[:8]}"
    parent = ledger.get_job(job_id)
    kwargs = {"sync_request_id": sync_request_id, "derms_answer": derms_answer}
    ledger.create_job(ack_job_id, flow, client=parent["client"] if parent else None,
                      message_id=sync_request_id, input=kwargs)
    ack_task.apply_async(kwargs={**kwargs, "job_id": ack_job_id}, task_id=ack_job_id)
    ledger.add_event(job_id, "step", ack_task.name, "QUEUED", {"ackJobId": ack_job_id})
    return ack_job_id


def send_ack(sync_request_id: str, derms_answer: Any) -> dict[str, Any]:
    """The ack step: DERMS's answer -> the DACS Sync Request Update."""
    body = mapping.ack_to_dacs(sync_request_id, derms_answer)
    answer = call("dacs", "sync_request_update", method="PATCH", json=body,
                  path_params={"syncRequestId": sync_request_id})
    return {"syncRequestId": sync_request_id, "hasError": body["hasError"],
            "externalIds": body["externalIds"],
            "dacsStatus": answer.get("status") if isinstance(answer, dict) else None}


@celery_app.task(bind=True, base=HubTask, name="program_rule_sync.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    answer = call("derms", "update_program", json=mapping.to_derms(message))
    enqueue_ack(ack, mapping.FLOW, job_id, mapping.message_id(message), answer)
    return {"status": 200, "body": mapping.answer(message)}


@celery_app.task(bind=True, base=HubTask, name="program_rule_sync.ack", flow=mapping.FLOW)
def ack(self: HubTask, sync_request_id: str, derms_answer: Any, job_id: str) -> dict[str, Any]:
    return send_ack(sync_request_id, derms_answer)
