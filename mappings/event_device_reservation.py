"""Event Device Reservation (DERMS -> DACS): a stage message plus a CSV of the reserved devices.

The ``message`` part is the program event stage body; the ``file`` part has the header
``recordId,nicId,headEndSystem,servicePointId,deviceType`` (any order, extra columns ignored).
DACS's reserveDevice takes ``recordId``, ``nicId`` and ``headEndSystem`` per device, so those
three columns are required; ``servicePointId`` and ``deviceType`` are read by nobody and may be
left out. Each segment of rows is one reserveDevice call for the stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from marshmallow import fields

from mappings.base import Id, InboundSchema, msg_ack
from mappings.csvfiles import Row, require

FLOW = "event_device_reservation"

#: the contract's header
COLUMNS = ("recordId", "nicId", "headEndSystem", "servicePointId", "deviceType")
#: the columns a file must have (the ones DACS gets)
REQUIRED = ("recordId", "nicId", "headEndSystem")


class StageMessageSchema(InboundSchema):
    """The ``message`` part: the program event stage body (the contract's example)."""

    messageId = Id()
    drmsInstanceId = fields.String(allow_none=True)
    eventId = Id()
    stageId = Id()
    programCode = fields.String(allow_none=True)
    eventType = fields.String(allow_none=True)
    stageStatus = fields.String(allow_none=True)
    startDateTimeISO = fields.String(allow_none=True)
    endDateTimeISO = fields.String(allow_none=True)
    cancelReason = fields.String(allow_none=True)


def message_id(message: dict[str, Any]) -> str:
    return message["messageId"]


def context(message: dict[str, Any]) -> dict[str, Any]:
    """What every segment needs from the message (small: it travels in each segment message)."""
    return {"eventId": message["eventId"], "stageId": message["stageId"]}


def subject(message: dict[str, Any]) -> str:
    """How acks and emails name the file's subject."""
    return message["stageId"]


def to_device(row: Row) -> dict[str, str]:
    """One CSV row -> one ``deviceList`` entry; :class:`~mappings.csvfiles.RowError` if unusable."""
    require(row, *REQUIRED)
    return {"recordId": row.values["recordId"], "nicId": row.values["nicId"],
            "headEndSystem": row.values["headEndSystem"]}


def reserve_bodies(ctx: dict[str, Any],
                   devices: list[dict[str, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The reserveDevice call(s) for one segment: one, labelled with the event id."""
    if devices:
        yield ctx["eventId"], {"eventExternalIdentifier": ctx["eventId"],
                               "externalIdentifier": ctx["stageId"], "deviceList": devices}


def ack(message: dict[str, Any], ack_type: str, responses: list[dict[str, Any]]) -> dict[str, Any]:
    """The event reservation ack: a MsgAck plus the stage's ``eventId`` and ``stageId``."""
    return {**msg_ack(message.get("messageId"), responses, ack_type),
            "eventId": message.get("eventId"), "stageId": message.get("stageId")}
