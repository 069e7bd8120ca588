"""Program Event Status Update (DERMS -> DACS): a DERMS event stage is a DACS program event.

``SCHEDULED`` creates the program event (createProgramEvent); ``IN_PROGRESS``, ``COMPLETED`` and
``CANCELLED`` act on it (actionProgramEvent with ``X1IP``, ``F1CO`` and ``F1CN``). ``eventType``
maps through the _EventType lookup.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from mappings import lookups as lookup_tables
from mappings.base import Id, InboundSchema, msg_ack, now_iso
from mappings.enrollment_request import DrmsInstanceId

FLOW = "program_event_stage"

CREATE = "SCHEDULED"
#: stage status -> DACS program event lifecycle action (the contract's codes)
ACTIONS = {"IN_PROGRESS": "X1IP", "COMPLETED": "F1CO", "CANCELLED": "F1CN"}
STAGE_STATUSES = (CREATE, *ACTIONS)


def known_event_type(value: str) -> None:
    """eventType must have a row in the _EventType lookup."""
    if value not in lookup_tables.current()["EventType"]:
        raise ValidationError(f"unknown eventType {value!r}: no row in lookup _EventType")


class ProgramEventStageSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/derms/program-event-stages``."""

    messageId = Id(max=256)
    drmsInstanceId = DrmsInstanceId(required=True)
    eventId = Id()
    stageId = Id()
    programCode = Id()
    eventType = fields.String(required=True,
                              validate=[validate.Length(min=1, max=64), known_event_type])
    stageStatus = fields.String(required=True, validate=validate.OneOf(STAGE_STATUSES))
    startDateTimeISO = fields.String(required=True, validate=validate.Length(min=1, max=40))
    endDateTimeISO = fields.String(required=True, validate=validate.Length(min=1, max=40))
    cancelReason = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=1000))


def message_id(message: dict[str, Any]) -> str:
    return message["messageId"]


def operation(message: dict[str, Any]) -> str:
    """The DACS operation the stage status calls for."""
    return "create_program_event" if message["stageStatus"] == CREATE else "action_program_event"


def to_dacs(message: dict[str, Any],
            tables: lookup_tables.Lookups | None = None) -> dict[str, Any]:
    """The stage -> the createProgramEvent or actionProgramEvent body."""
    tables = tables or lookup_tables.current()
    body: dict[str, Any] = {
        "eventExternalIdentifier": message["eventId"],
        "externalIdentifier": message["stageId"],
        "programCode": message["programCode"],
        "eventType": tables.map("EventType", message["eventType"], "eventType"),
        "startDateTime": message["startDateTimeISO"],
        "endDateTime": message["endDateTimeISO"],
        "drmsInstanceId": message["drmsInstanceId"],
    }
    if message["stageStatus"] != CREATE:
        body["action"] = ACTIONS[message["stageStatus"]]
        body["cancelReason"] = message.get("cancelReason")
    return body


def success(message: dict[str, Any], dacs_answer: dict[str, Any]) -> dict[str, Any]:
    """DACS took it: SUCCESS, DACS's ``programEventId`` in ``value``."""
    return msg_ack(message["messageId"], [{
        "id": message["stageId"], "value": str(dacs_answer.get("programEventId") or ""),
        "responseCode": "SUCCESS", "responseText": "", "responseTimeISO": now_iso()}])


def negative(message: dict[str, Any], code: str, text: str) -> dict[str, Any]:
    """The negative MsgAck: ``ERROR`` for a DACS business error, ``FAILURE`` for a fault."""
    return msg_ack(message["messageId"], [{
        "id": message["stageId"], "value": "", "responseCode": code, "responseText": text,
        "responseTimeISO": now_iso()}], ack=code)
