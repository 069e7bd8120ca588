"""Customer Event Opt Out (DACS): ``POST /api/v1/dacs/event-opt-outs``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import event_opt_out as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/dacs/event-opt-outs", client="dacs",
    mode="sync", task="event_opt_out.send", schema=mapping.EventOptOutSchema,
    summary="DACS customer opt out to DERMS /event-opt-out; 200 only on DERMS SUCCESS",
    answers={200: "DERMS acked SUCCESS", 502: "DERMS fault or negative ack"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def event_opt_out() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
