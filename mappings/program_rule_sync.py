"""Program Rule Sync (DACS -> DERMS): a program and its event rules, then the ack back to DACS.

DACS masters programs and their rules; DERMS needs them to work out device availability. Oracle
does not publish DACS's outbound message, so the inbound body is this hub's design (docs/flows.md):

.. code-block:: json

    {"sendDetails": {"syncRequestId": "S-90"},
     "programInfo": {"programId": "PG1", "programCode": "BYOT", "description": "Bring your own",
                     "programType": "DR", "status": "ACTIVE",
                     "startDateTime": "2026-01-01T00:00:00.000Z", "endDateTime": null},
     "programRules": [{"ruleId": "R1", "ruleType": "MAX_EVENTS_PER_MONTH", "ruleValue": "4",
                       "unit": "EVENTS", "description": "At most 4 events a month",
                       "startDateTime": "2026-01-01T00:00:00.000Z", "endDateTime": null}]}

Once DERMS took it (HTTP 200), its MsgAck becomes the DACS Sync Request Update (the internal ack):
``externalIds`` maps each response's ``id`` to its ``value``, DERMS's id of the program.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from mappings.base import Id, InboundSchema, OptText
from mappings.enrollment_sync import SendDetailsSchema
from mappings.enrollment_sync_ack import ack_to_dacs

FLOW = "program_rule_sync"

__all__ = ["FLOW", "ProgramRuleSyncSchema", "message_id", "to_derms", "ack_to_dacs", "answer"]


class ProgramInfoSchema(InboundSchema):
    programId = OptText(128)
    programCode = Id()
    description = OptText(1000)
    programType = OptText(64)
    status = OptText(32)
    startDateTime = OptText(40)
    endDateTime = OptText(40)


class ProgramRuleSchema(InboundSchema):
    ruleId = Id()
    ruleType = Id(max=64)
    ruleValue = OptText(256)
    unit = OptText(32)
    description = OptText(1000)
    startDateTime = OptText(40)
    endDateTime = OptText(40)


class ProgramRuleSyncSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/dacs/program-rule-syncs``."""

    sendDetails = fields.Nested(SendDetailsSchema, required=True)
    programInfo = fields.Nested(ProgramInfoSchema, required=True)
    programRules = fields.List(fields.Nested(ProgramRuleSchema), load_default=list,
                               validate=validate.Length(max=1000))


def message_id(message: dict[str, Any]) -> str:
    return message["sendDetails"]["syncRequestId"]


def to_derms(message: dict[str, Any]) -> dict[str, Any]:
    """DACS program + rules -> DERMS ``/update-program`` body."""
    program = message["programInfo"]
    return {
        "messageId": message_id(message),
        "syncRequestId": message_id(message),
        "programId": program.get("programId"),
        "programCode": program["programCode"],
        "description": program.get("description"),
        "programType": program.get("programType"),
        "status": program.get("status"),
        "startDateTimeISO": program.get("startDateTime"),
        "endDateTimeISO": program.get("endDateTime"),
        "rules": [{"ruleId": r["ruleId"], "ruleType": r["ruleType"], "value": r.get("ruleValue"),
                   "unit": r.get("unit"), "description": r.get("description"),
                   "startDateTimeISO": r.get("startDateTime"),
                   "endDateTimeISO": r.get("endDateTime")} for r in message["programRules"]],
    }


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """What DACS gets once DERMS took the update; the ack follows on its own."""
    return {"syncRequestId": message_id(message), "status": "SENT"}
