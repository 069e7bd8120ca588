"""Event Device Reservation (DERMS): ``POST /api/v1/derms/event-device-reservations``, async.

Multipart: ``message`` (the program event stage JSON) and ``file`` (CSV of reserved devices).
Answers ``202`` once the file is staged durably and the job recorded; the ack goes to DERMS
``/event-reservation-ack`` when every segment is in.
"""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.multipart import accept_csv_upload
from mappings import event_device_reservation as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/event-device-reservations",
    client="derms", mode="async", task="event_device_reservation.start",
    schema=mapping.StageMessageSchema, multipart=True,
    summary="devices reserved for an event stage (CSV) to DACS reserveDevice in segments; "
            "ack to DERMS /event-reservation-ack",
    answers={202: "accepted: {jobId, status, statusUrl}",
             400: "bad message, missing part or CSV header error (errors['file.header'])",
             413: "body over upload.max.bytes"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def event_device_reservation() -> Response:
    return accept_csv_upload(FLOW, message_id=mapping.message_id, required=mapping.REQUIRED)
