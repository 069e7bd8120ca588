"""Event Device Outcome (DERMS -> DACS): the participation outcome of every device called.

The ``message`` part is ``{"messageId", "drmsInstanceId", "fileName"}``; the ``file`` part has
the header ``recordId,eventId,nicId,headEndSystem,outcome,participationStartDateTimeISO,
participationEndDateTimeISO,errorMessage`` (any order, extra columns ignored; ``errorMessage``
may be left out). One file can hold several events: each postEventOutcome call carries the rows
of one event, so a segment makes one call per event it holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from marshmallow import fields, validate

from mappings.base import Id, InboundSchema, msg_ack
from mappings.csvfiles import Row, RowError, require

FLOW = "event_device_outcome"

#: the contract's header
COLUMNS = ("recordId", "eventId", "nicId", "headEndSystem", "outcome",
           "participationStartDateTimeISO", "participationEndDateTimeISO", "errorMessage")
REQUIRED = COLUMNS[:-1]

#: DERMS outcome -> DACS participation outcome
OUTCOMES = {"SUCCESS": "D1SP", "ERROR": "D1ER", "NON_RESPONSIVE": "D1ND", "OVERRIDE": "D1IO",
            "CANCELLED": "D1CN"}
MAX_ERROR_MESSAGE = 2000


class OutcomeMessageSchema(InboundSchema):
    """The ``message`` part."""

    messageId = Id()
    drmsInstanceId = fields.String(allow_none=True)
    fileName = fields.String(allow_none=True, validate=validate.Length(max=255))


def message_id(message: dict[str, Any]) -> str:
    return message["messageId"]


def context(message: dict[str, Any]) -> dict[str, Any]:
    return {}


def subject(message: dict[str, Any]) -> str:
    return message.get("fileName") or message["messageId"]


def _instant(row: Row, name: str) -> str | None:
    value = row.values.get(name, "")
    if not value:
        return None
    try:
        dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise RowError(row, f"{name} {value[:40]!r} is not an ISO 8601 date-time") from exc
    return value


def to_outcome(row: Row) -> dict[str, Any]:
    """One CSV row -> one ``postOutcomeList`` entry, with its ``eventId`` alongside (popped by
    :func:`outcome_bodies`)."""
    require(row, "eventId", "nicId", "headEndSystem", "outcome")
    outcome = row.values["outcome"].upper()
    if outcome not in OUTCOMES:
        raise RowError(row, f"outcome {row.values['outcome'][:40]!r} is not one of "
                            f"{', '.join(OUTCOMES)}")
    start = _instant(row, "participationStartDateTimeISO")
    end = _instant(row, "participationEndDateTimeISO")
    error = row.values.get("errorMessage") or None
    return {"eventId": row.values["eventId"], "nicId": row.values["nicId"],
            "headEndSystem": row.values["headEndSystem"], "outcome": OUTCOMES[outcome],
            "participationStartDateTime": start, "participationEndDateTime": end,
            "errorMessage": error[:MAX_ERROR_MESSAGE] if error else None}


def outcome_bodies(ctx: dict[str, Any],
                   outcomes: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The postEventOutcome calls for one segment: one per event, in order of first appearance."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for item in outcomes:
        item = dict(item)
        by_event.setdefault(item.pop("eventId"), []).append(item)
    for event_id, items in by_event.items():
        yield event_id, {"eventExternalIdentifier": event_id, "postOutcomeList": items}


def ack(message: dict[str, Any], ack_type: str, responses: list[dict[str, Any]]) -> dict[str, Any]:
    """The event outcome ack: a MsgAck."""
    return msg_ack(message.get("messageId"), responses, ack_type)
