"""Aggregator Sync (DACS -> DERMS): an aggregator and its programs, then the ack back to DACS.

DACS masters the aggregators (vendors such as ecobee that enroll and manage devices). Oracle does
not publish DACS's outbound message, so the inbound body is this hub's design (docs/flows.md):

.. code-block:: json

    {"sendDetails": {"syncRequestId": "S-91"},
     "aggregatorInfo": {"aggregatorId": "AG1", "aggregatorCode": "ECOBEE", "name": "ecobee Inc.",
                        "status": "ACTIVE", "headEndSystem": "ECOBEE",
                        "contactName": "Grid team", "contactEmail": "grid@ecobee.example",
                        "contactPhone": "+1 555 0100"},
     "programs": [{"programCode": "BYOT", "startDateTime": "2026-01-01T00:00:00.000Z",
                   "endDateTime": null}]}

Once DERMS took it (HTTP 200), its MsgAck becomes the DACS Sync Request Update (the internal ack),
exactly as for Program Rule Sync.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from mappings.base import Id, InboundSchema, OptText
from mappings.enrollment_sync import SendDetailsSchema
from mappings.enrollment_sync_ack import ack_to_dacs

FLOW = "aggregator_sync"

__all__ = ["FLOW", "AggregatorSyncSchema", "message_id", "to_derms", "ack_to_dacs", "answer"]


class AggregatorInfoSchema(InboundSchema):
    aggregatorId = OptText(128)
    aggregatorCode = Id()
    name = OptText(256)
    status = OptText(32)
    headEndSystem = OptText(64)
    contactName = OptText(256)
    contactEmail = OptText(254)
    contactPhone = OptText(64)


class AggregatorProgramSchema(InboundSchema):
    programCode = Id()
    startDateTime = OptText(40)
    endDateTime = OptText(40)


class AggregatorSyncSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/dacs/aggregator-syncs``."""

    sendDetails = fields.Nested(SendDetailsSchema, required=True)
    aggregatorInfo = fields.Nested(AggregatorInfoSchema, required=True)
    programs = fields.List(fields.Nested(AggregatorProgramSchema), load_default=list,
                           validate=validate.Length(max=1000))


def message_id(message: dict[str, Any]) -> str:
    return message["sendDetails"]["syncRequestId"]


def to_derms(message: dict[str, Any]) -> dict[str, Any]:
    """DACS aggregator -> DERMS ``/update-aggregator`` body."""
    aggregator = message["aggregatorInfo"]
    return {
        "messageId": message_id(message),
        "syncRequestId": message_id(message),
        "aggregatorId": aggregator.get("aggregatorId"),
        "aggregatorCode": aggregator["aggregatorCode"],
        "name": aggregator.get("name"),
        "status": aggregator.get("status"),
        "headEndSystem": aggregator.get("headEndSystem"),
        "contact": {"name": aggregator.get("contactName"), "email": aggregator.get("contactEmail"),
                    "phone": aggregator.get("contactPhone")},
        "programs": [{"programCode": p["programCode"], "startDateTimeISO": p.get("startDateTime"),
                      "endDateTimeISO": p.get("endDateTime")} for p in message["programs"]],
    }


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """What DACS gets once DERMS took the update; the ack follows on its own."""
    return {"syncRequestId": message_id(message), "status": "SENT"}
