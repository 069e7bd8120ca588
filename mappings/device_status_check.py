"""Device Status Check (DACS -> DERMS): DACS asks for a device's latest communication status.

DERMS answers later, on its own, through Device Status Check Ack; this flow only hands the
request over. DACS's device fields keep their values under DERMS's names.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from mappings.base import Id, InboundSchema, OptText

FLOW = "device_status_check"


class CommunicationSchema(InboundSchema):
    """``sendDetails`` of a DACS communication (not a sync request): its id is the key."""

    communicationId = Id()


class StatusCheckDeviceSchema(InboundSchema):
    division = OptText()
    deviceType = OptText()
    specification = OptText()
    headEndSystem = Id(max=64)
    # DACS spells it ``nicid`` here (the contract's example); DERMS gets ``nicId``.
    nicid = Id()


class DeviceStatusCheckSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/dacs/device-status-checks``."""

    sendDetails = fields.Nested(CommunicationSchema, required=True)
    deviceInfo = fields.Nested(StatusCheckDeviceSchema, required=True)


def message_id(message: dict[str, Any]) -> str:
    return message["sendDetails"]["communicationId"]


def to_derms(message: dict[str, Any]) -> dict[str, Any]:
    """DACS device status check -> DERMS ``/status_check`` body."""
    device = message["deviceInfo"]
    return {
        "messageId": message_id(message),
        "communicationId": message_id(message),
        "device": {"nicId": device["nicid"], "headEndSystem": device["headEndSystem"],
                   "deviceType": device.get("deviceType"),
                   "specification": device.get("specification"),
                   "division": device.get("division")},
    }


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """What DACS gets once DERMS took the check."""
    return {"communicationId": message_id(message), "status": "SENT"}
