"""Device Status Check Ack (DERMS -> DACS): post the device status to DACS, answer a MsgAck.

Success: ackType SUCCESS, each response's ``responseCode`` DACS's ``boStatus``. Any DACS error,
business or technical (after the retries): ackType FAILURE, the dead letter and the error email;
the job is FAILED, so DERMS's re-send of the message is a new attempt.
"""

from __future__ import annotations

from typing import Any

from mappings import device_status_ack as mapping
from tasks.app import celery_app
from tasks.base import HubTask, call, failure_report
from tasks.enrollment_request import fault_text


class _StatusAck(HubTask):
    """A failed post still answers DERMS: the FAILURE MsgAck."""

    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"status": 200,
                "body": mapping.failure(kwargs["message"], fault_text(failure_report(exc)))}


@celery_app.task(bind=True, base=_StatusAck, name="device_status_ack.send", flow=mapping.FLOW)
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    bo_statuses = []
    for communication_id, body in mapping.to_dacs(message):
        answer = call("dacs", "device_status_response", json=body,
                      instance=message.get("drmsInstanceId"))
        # A 200 without a boStatus still means DACS took it.
        bo_status = answer.get("boStatus") if isinstance(answer, dict) else None
        bo_statuses.append((communication_id, str(bo_status or "SUCCESS")))
    return {"status": 200, "body": mapping.success(message, bo_statuses)}
