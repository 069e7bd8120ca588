"""Enrollment Sync Ack (DERMS -> DACS): DERMS's MsgAck -> DACS Sync Request Update (PATCH).

One PATCH per syncRequestId the ack answers (usually one). Any error is the door's 502 fault, the
dead letter and the error email (the guide: "the integration flow will stop processing").
"""

from __future__ import annotations

from typing import Any

from mappings import enrollment_sync_ack as mapping
from tasks.app import celery_app
from tasks.base import HubTask, call


@celery_app.task(bind=True, base=HubTask, name="enrollment_sync_ack.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    updated = []
    for sync_request_id, body in mapping.to_dacs(message):
        answer = call("dacs", "sync_request_update", method="PATCH", json=body,
                      path_params={"syncRequestId": sync_request_id},
                      instance=message.get("drmsInstanceId"))
        updated.append({"syncRequestId": sync_request_id,
                        "status": answer.get("status") if isinstance(answer, dict) else None})
    return {"status": 200, "body": mapping.answer(message, updated)}
