"""Enrollment Sync (DACS): ``POST /api/v1/dacs/enrollment-syncs``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import enrollment_sync as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/dacs/enrollment-syncs", client="dacs",
    mode="sync", task="enrollment_sync.send", schema=mapping.EnrollmentSyncSchema,
    summary="DACS enrollment / registration to DERMS /enroll; answers {externalId}",
    answers={200: '{"externalId": syncRequestId}', 502: "DERMS fault"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def enrollment_sync() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
