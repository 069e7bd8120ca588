"""Enrollment Sync Ack (DERMS -> DACS): DERMS's MsgAck -> DACS Sync Request Update.

Also home of what every "sync ack" shares: the inbound MsgAck schema (used by Device Status Ack
too), :func:`sync_request_update`, the DACS body built from a MsgAck, and :func:`ack_to_dacs`,
the same from DERMS's answer to an update (the internal acks of Program Rule Sync and Aggregator
Sync).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from marshmallow import fields, validate

from mappings.base import Id, InboundSchema, OptText
from mappings.enrollment_request import DrmsInstanceId

FLOW = "enrollment_sync_ack"

ACK_TYPES = ("SUCCESS", "FAILURE", "ERROR")


class AckResponseSchema(InboundSchema):
    """One response of a DERMS MsgAck; ``dacsMessageId`` is the DACS id it answers."""

    id = OptText(128)
    value = OptText(256)
    responseCode = fields.String(required=True, validate=validate.Length(min=1, max=64))
    responseText = OptText(4000)
    responseTimeISO = OptText()
    dacsMessageId = Id()


class MsgAckSchema(InboundSchema):
    """A DERMS MsgAck. ``drmsInstanceId`` is the hub's addition: optional, it picks the DACS."""

    messageId = Id(max=256)
    drmsInstanceId = DrmsInstanceId(load_default=None, allow_none=True)
    ackType = fields.String(required=True, validate=validate.OneOf(ACK_TYPES))
    whenISO = OptText()
    responses = fields.List(fields.Nested(AckResponseSchema), required=True,
                            validate=validate.Length(min=1, max=1000))


class EnrollmentSyncAckSchema(MsgAckSchema):
    """The inbound body of ``POST /api/v1/derms/enrollment-sync-acks``."""


def message_id(message: dict[str, Any]) -> str:
    return message["messageId"]


def by_dacs_message(responses: list[dict[str, Any]]) -> OrderedDict[str, list[dict[str, Any]]]:
    """Responses grouped by ``dacsMessageId``, in order of first appearance."""
    groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for response in responses:
        groups.setdefault(response["dacsMessageId"], []).append(response)
    return groups


def sync_request_update(sync_request_id: str, ack_type: str | None,
                        responses: list[dict[str, Any]]) -> dict[str, Any]:
    """The DACS Sync Request Update body for one syncRequestId, from DERMS's acknowledgement.

    * ``hasError``: the ackType is not SUCCESS, or a response of this sync request is not;
    * ``exceptionInfo``: one entry per response that is not SUCCESS (``id``, ``code``,
      ``message``), or one for the ackType itself when no response says more;
    * ``externalIds``: each SUCCESS response's ``id`` -> ``value`` (DERMS's id of the object).
    """
    ack = ack_type or "SUCCESS"
    failed = [r for r in responses if (r.get("responseCode") or "") != "SUCCESS"]
    has_error = ack != "SUCCESS" or bool(failed)
    exception_info = [{"id": r.get("id"), "code": r.get("responseCode"),
                       "message": r.get("responseText") or ""} for r in failed]
    if has_error and not exception_info:
        exception_info = [{"id": None, "code": ack,
                           "message": f"DERMS acknowledged with {ack}"}]
    external_ids = {str(r["id"]): r.get("value") for r in responses
                    if (r.get("responseCode") or "") == "SUCCESS" and r.get("id")
                    and r.get("value") not in (None, "")}
    return {"syncRequestId": sync_request_id, "hasError": has_error,
            "exceptionInfo": exception_info, "externalIds": external_ids}


def ack_to_dacs(sync_request_id: str, derms_answer: Any) -> dict[str, Any]:
    """DERMS's answer to the update -> the DACS Sync Request Update body.

    DERMS answered 200, so a body that is not a MsgAck still counts as taken (SUCCESS, no ids).
    """
    answer = derms_answer if isinstance(derms_answer, dict) else {}
    responses = [r for r in answer.get("responses") or [] if isinstance(r, dict)]
    return sync_request_update(sync_request_id, answer.get("ackType"), responses)


def to_dacs(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The MsgAck -> one ``(syncRequestId, body)`` per DACS sync request it answers."""
    return [(sync_id, sync_request_update(sync_id, message["ackType"], group))
            for sync_id, group in by_dacs_message(message["responses"]).items()]


def answer(message: dict[str, Any], updated: list[dict[str, Any]]) -> dict[str, Any]:
    """What DERMS gets once DACS took every update."""
    return {"messageId": message["messageId"], "status": "UPDATED",
            "syncRequests": updated}
