"""Customer Event Opt Out (DACS -> DERMS): DACS answers 200 only when DERMS acked SUCCESS.

DERMS's error status, or a 200 whose ackType is not SUCCESS, is the door's 502 fault, the dead
letter and the error email.
"""

from __future__ import annotations

from typing import Any

from hub.clients import DownstreamError
from mappings import event_opt_out as mapping
from tasks.app import celery_app
from tasks.base import HubTask, call


class NegativeAck(DownstreamError):
    """DERMS answered 200 but did not ack SUCCESS: a business error, never retried."""


@celery_app.task(bind=True, base=HubTask, name="event_opt_out.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    answer = call("derms", "event_opt_out", json=mapping.to_derms(message))
    problem = mapping.negative_ack_text(answer)
    if problem is not None:
        raise NegativeAck("derms", "event_opt_out", 200, problem, answer)
    return {"status": 200, "body": mapping.answer(message, answer)}
