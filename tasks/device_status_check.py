"""Device Status Check (DACS -> DERMS): hand DACS's check to DERMS ``/status_check``.

DERMS's 200 ends the flow (its status comes back later through Device Status Check Ack); any
other answer is the door's 502 fault, the dead letter and the error email.
"""

from __future__ import annotations

from typing import Any

from mappings import device_status_check as mapping
from tasks.app import celery_app
from tasks.base import HubTask, call


@celery_app.task(bind=True, base=HubTask, name="device_status_check.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    call("derms", "status_check", json=mapping.to_derms(message))
    return {"status": 200, "body": mapping.answer(message)}
