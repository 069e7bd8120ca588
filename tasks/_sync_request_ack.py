"""The internal ack of Program Rule Sync and Aggregator Sync: DERMS's answer to the update,
PATCHed to the DACS Sync Request.

Each flow's first step calls :func:`enqueue_ack` once DERMS answered 200; the flow's own ack task
(``program_rule_sync.ack``, ``aggregator_sync.ack``) runs :func:`send_ack`. Not a task module.
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import Task

from hub import runtime
from mappings.enrollment_sync_ack import ack_to_dacs
from tasks.base import call

__all__ = ["enqueue_ack", "send_ack"]


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
    body = ack_to_dacs(sync_request_id, derms_answer)
    answer = call("dacs", "sync_request_update", method="PATCH", json=body,
                  path_params={"syncRequestId": sync_request_id})
    return {"syncRequestId": sync_request_id, "hasError": body["hasError"],
            "externalIds": body["externalIds"],
            "dacsStatus": answer.get("status") if isinstance(answer, dict) else None}
