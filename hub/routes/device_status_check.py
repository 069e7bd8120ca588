"""Device Status Check (DACS): ``POST /api/v1/dacs/device-status-checks``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import device_status_check as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/dacs/device-status-checks", client="dacs",
    mode="sync", task="device_status_check.send", schema=mapping.DeviceStatusCheckSchema,
    summary="DACS device status check to DERMS /status_check",
    answers={200: "DERMS took the check", 502: "DERMS fault"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def device_status_check() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
