"""Customer Event Opt Out (DACS -> DERMS): a customer opted out of an upcoming event.

A CSR sets the Preemptive Opt-Out flag in DACS; DACS tells DERMS which devices opted out of which
event, and DERMS has Live Energy Connect cancel their control commands. Oracle does not publish
DACS's outbound message, so the inbound body is this hub's design (docs/flows.md):

.. code-block:: json

    {"sendDetails": {"communicationId": "OPT-1"},
     "eventInfo": {"programEventId": "PE-1", "eventExternalIdentifier": "EV-1",
                   "externalIdentifier": "EV-1-S1", "programCode": "BYOT"},
     "preemptiveOptOut": true, "optOutDateTime": "2026-12-05T12:00:00.000Z",
     "reason": "Customer called", "cisServicePointId": "SP1",
     "controllableDevices": [{"nicId": "NIC9", "headEndSystem": "ECOBEE",
                              "deviceType": "THERMOSTAT",
                              "specification": "ecobee!SmartThermostat"}]}

The event is named as DACS knows it from Program Event Status Update: ``eventExternalIdentifier``
is DERMS's eventId and ``externalIdentifier`` its stageId.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from mappings.base import Id, InboundSchema, OptText
from mappings.device_status_check import CommunicationSchema

FLOW = "event_opt_out"


class OptOutEventSchema(InboundSchema):
    programEventId = OptText(128)
    eventExternalIdentifier = Id()
    externalIdentifier = OptText(128)
    programCode = OptText(128)


class OptOutDeviceSchema(InboundSchema):
    nicId = Id()
    headEndSystem = Id(max=64)
    deviceType = OptText()
    specification = OptText()


class EventOptOutSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/dacs/event-opt-outs``."""

    sendDetails = fields.Nested(CommunicationSchema, required=True)
    eventInfo = fields.Nested(OptOutEventSchema, required=True)
    preemptiveOptOut = fields.Boolean(load_default=True)
    optOutDateTime = OptText(40)
    reason = OptText(1000)
    cisServicePointId = OptText(128)
    controllableDevices = fields.List(fields.Nested(OptOutDeviceSchema), required=True,
                                      validate=validate.Length(min=1, max=1000))


def message_id(message: dict[str, Any]) -> str:
    return message["sendDetails"]["communicationId"]


def to_derms(message: dict[str, Any]) -> dict[str, Any]:
    """DACS opt out -> DERMS ``/event-opt-out`` body."""
    event = message["eventInfo"]
    return {
        "messageId": message_id(message),
        "communicationId": message_id(message),
        "eventId": event["eventExternalIdentifier"],
        "stageId": event.get("externalIdentifier"),
        "programEventId": event.get("programEventId"),
        "programCode": event.get("programCode"),
        "optOut": message["preemptiveOptOut"],
        "optOutDateTimeISO": message.get("optOutDateTime"),
        "reason": message.get("reason"),
        "servicePointId": message.get("cisServicePointId"),
        "devices": [{"nicId": d["nicId"], "headEndSystem": d["headEndSystem"],
                     "deviceType": d.get("deviceType"), "specification": d.get("specification")}
                    for d in message["controllableDevices"]],
    }


def negative_ack_text(derms_answer: Any) -> str | None:
    """None when DERMS acked SUCCESS; else what went wrong, for the fault and the email."""
    if not isinstance(derms_answer, dict):
        return "no MsgAck in the answer"
    ack = derms_answer.get("ackType")
    if ack == "SUCCESS":
        return None
    texts = [str(r.get("responseText")) for r in derms_answer.get("responses") or []
             if isinstance(r, dict) and r.get("responseText")]
    detail = "; ".join(texts)[:400]
    return f"acknowledged {ack or 'without an ackType'}" + (f": {detail}" if detail else "")


def answer(message: dict[str, Any], derms_answer: dict[str, Any]) -> dict[str, Any]:
    """What DACS gets once DERMS acked SUCCESS."""
    return {"communicationId": message_id(message), "ackType": derms_answer["ackType"]}
