"""Program Event Status Update (DERMS): ``POST /api/v1/derms/program-event-stages``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import program_event_stage as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/program-event-stages", client="derms",
    mode="sync", task="program_event_stage.send", schema=mapping.ProgramEventStageSchema,
    summary="DERMS event stage to DACS create/action program event; answers a MsgAck",
    answers={200: "MsgAck: SUCCESS, or ERROR / FAILURE"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def program_event_stage() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
