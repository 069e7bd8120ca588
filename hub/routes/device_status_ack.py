"""Device Status Check Ack (DERMS): ``POST /api/v1/derms/device-status-acks``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import device_status_ack as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/device-status-acks", client="derms",
    mode="sync", task="device_status_ack.send", schema=mapping.DeviceStatusAckSchema,
    summary="DERMS device status to DACS postControllableDeviceStatus; answers a MsgAck",
    answers={200: "MsgAck: SUCCESS with DACS boStatus as responseCode, or FAILURE"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def device_status_ack() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
