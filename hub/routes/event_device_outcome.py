"""Event Device Outcome (DERMS): ``POST /api/v1/derms/event-device-outcomes``, async.

Multipart: ``message`` (``{"messageId", "drmsInstanceId", "fileName"}``) and ``file`` (CSV of
participation outcomes, possibly of several events). Answers ``202`` once the file is staged
durably and the job recorded; the ack goes to DERMS ``/event-outcome-ack`` when every segment
is in.
"""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.multipart import accept_csv_upload
from mappings import event_device_outcome as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/event-device-outcomes",
    client="derms", mode="async", task="event_device_outcome.start",
    schema=mapping.OutcomeMessageSchema, multipart=True,
    summary="device participation outcomes (CSV, one or more events) to DACS postEventOutcome "
            "in segments, one call per event; ack to DERMS /event-outcome-ack",
    answers={202: "accepted: {jobId, status, statusUrl}",
             400: "bad message, missing part or CSV header error (errors['file.header'])",
             413: "body over upload.max.bytes"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def event_device_outcome() -> Response:
    return accept_csv_upload(FLOW, message_id=mapping.message_id, required=mapping.REQUIRED)
