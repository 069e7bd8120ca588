"""Enrollment Request (DERMS): ``POST /api/v1/derms/enrollment-requests``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import enrollment_request as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/enrollment-requests", client="derms",
    mode="sync", task="enrollment_request.send", schema=mapping.EnrollmentRequestSchema,
    summary="Each enrollment to DACS enroll, in parallel; answers the MsgAck, one response each",
    answers={200: "MsgAck, one response per enrollment (FAILURE on a technical fault)"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def enrollment_request() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message},
                                           total=len(message["enrollments"]))
