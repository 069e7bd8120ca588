"""Device Status Check Ack (DERMS -> DACS): the device status DERMS got from Live Energy Connect.

DERMS sends a MsgAck. Each response answers one DACS status check: ``dacsMessageId`` is DACS's
``communicationId``, ``id`` the device's nicId and ``value`` its status. One DACS
postControllableDeviceStatus call is made per communicationId; DERMS gets back a MsgAck whose
``responseCode`` is DACS's ``boStatus``.
"""

from __future__ import annotations

from typing import Any

from mappings.base import msg_ack, now_iso
from mappings.enrollment_sync_ack import MsgAckSchema, by_dacs_message

FLOW = "device_status_ack"


class DeviceStatusAckSchema(MsgAckSchema):
    """The inbound body of ``POST /api/v1/derms/device-status-acks``."""


def message_id(message: dict[str, Any]) -> str:
    return message["messageId"]


def to_dacs(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The MsgAck -> one ``(communicationId, DACS body)`` per status check it answers."""
    calls = []
    for communication_id, responses in by_dacs_message(message["responses"]).items():
        calls.append((communication_id, {
            "communicationId": communication_id,
            "messageId": message["messageId"],
            "ackType": message["ackType"],
            "statusDateTime": message.get("whenISO"),
            "devices": [{"nicId": r.get("id"), "deviceStatus": r.get("value"),
                         "responseCode": r["responseCode"],
                         "message": r.get("responseText") or "",
                         "statusDateTime": r.get("responseTimeISO")} for r in responses],
        }))
    return calls


def success(message: dict[str, Any], bo_statuses: list[tuple[str, str]]) -> dict[str, Any]:
    """DACS took every status: ackType SUCCESS, each response's ``responseCode`` DACS's boStatus."""
    return msg_ack(message["messageId"], [
        {"id": communication_id, "value": "", "responseCode": bo_status, "responseText": "",
         "responseTimeISO": now_iso(), "dacsMessageId": communication_id}
        for communication_id, bo_status in bo_statuses], ack="SUCCESS")


def failure(message: dict[str, Any], text: str) -> dict[str, Any]:
    """DACS refused or could not be reached: ackType FAILURE, DACS's message in each response."""
    return msg_ack(message["messageId"], [
        {"id": communication_id, "value": "", "responseCode": "FAILURE", "responseText": text,
         "responseTimeISO": now_iso(), "dacsMessageId": communication_id}
        for communication_id in by_dacs_message(message["responses"])], ack="FAILURE")
