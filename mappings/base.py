"""Shared pieces of the mappings: the strict inbound base schema and the MsgAck."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

__all__ = ["InboundSchema", "Id", "OptText", "OPTIONAL", "ack_type", "msg_ack", "now_iso"]

#: the keywords of an optional field: absent or null, it loads as None
OPTIONAL: dict[str, Any] = {"load_default": None, "allow_none": True}


class InboundSchema(Schema):
    """Inbound messages refuse unknown fields: a typo upstream is a 400, not silent data loss."""

    class Meta:
        unknown = RAISE


def Id(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field type
    """A required, non-empty identifier of sane length."""
    return fields.String(required=kwargs.pop("required", True),
                         validate=validate.Length(min=1, max=kwargs.pop("max", 128)), **kwargs)


def OptText(max: int | None = None) -> fields.String:  # noqa: N802 - reads like a field type
    """An optional string (absent or null loads as None), of at most ``max`` characters."""
    if max is None:
        return fields.String(**OPTIONAL)
    return fields.String(**OPTIONAL, validate=validate.Length(max=max))


def now_iso() -> str:
    moment = dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ack_type(codes: list[str]) -> str:
    """The contract's overall ackType: SUCCESS if all are, else ERROR if any is, else FAILURE."""
    if codes and all(c == "SUCCESS" for c in codes):
        return "SUCCESS"
    if any(c == "ERROR" for c in codes):
        return "ERROR"
    return "FAILURE"


def msg_ack(message_id: str | None, responses: list[dict[str, Any]],
            ack: str | None = None) -> dict[str, Any]:
    """The DERMS acknowledgement shape (MsgAck)."""
    return {"messageId": message_id, "ackType": ack or ack_type([r["responseCode"] for r in responses]),
            "whenISO": now_iso(), "responses": responses}
