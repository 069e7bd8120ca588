"""Enrollment Sync (DACS -> DERMS): transform, call DERMS ``/enroll``, answer the externalId."""

from __future__ import annotations

from typing import Any

from mappings import enrollment_sync as mapping
from tasks.app import celery_app
from tasks.base import HubTask, call


@celery_app.task(bind=True, base=HubTask, name="enrollment_sync.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    """One DERMS call. Its errors are the door's 502 fault, the dead letter and the error email."""
    call("derms", "enroll", json=mapping.to_derms(message))
    return {"status": 200, "body": mapping.answer(message)}
