"""Enrollment Sync Ack (DERMS): ``POST /api/v1/derms/enrollment-sync-acks``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import enrollment_sync_ack as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/enrollment-sync-acks", client="derms",
    mode="sync", task="enrollment_sync_ack.send", schema=mapping.EnrollmentSyncAckSchema,
    summary="DERMS MsgAck to DACS Sync Request Update (PATCH per syncRequestId)",
    answers={200: "DACS took the update", 502: "DACS fault"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def enrollment_sync_ack() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
