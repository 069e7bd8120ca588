"""Program Event Status Update (DERMS -> DACS): create or action the DACS program event.

Success: a SUCCESS MsgAck carrying DACS's programEventId. A DACS business error: an ERROR MsgAck
with DACS's message; a technical fault after the retries: a FAILURE MsgAck. Either way the dead
letter and the error email, and the job is FAILED, so DERMS's re-send is a new attempt.
"""

from __future__ import annotations

from typing import Any

from hub.clients import DownstreamError
from mappings import enrollment_request
from mappings import program_event_stage as mapping
from mappings.lookups import UnmappedValue
from tasks.app import celery_app
from tasks.base import HubTask, call, failure_report
from tasks.enrollment_request import fault_text


class _Stage(HubTask):
    """A refused or failed call still answers DERMS: the negative MsgAck."""

    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> dict[str, Any]:
        message = kwargs["message"]
        if isinstance(exc, UnmappedValue):
            return {"status": 200, "body": mapping.negative(message, "ERROR", str(exc))}
        business = None
        if isinstance(exc, DownstreamError) and not exc.transient:
            business = enrollment_request.dacs_business_error(exc.body)
        if business is not None:
            return {"status": 200, "body": mapping.negative(message, "ERROR", business[1])}
        return {"status": 200,
                "body": mapping.negative(message, "FAILURE", fault_text(failure_report(exc)))}


@celery_app.task(bind=True, base=_Stage, name="program_event_stage.send", flow=mapping.FLOW,
                 fail_on=(DownstreamError, UnmappedValue))
def send(self: HubTask, message: dict[str, Any], job_id: str) -> dict[str, Any]:
    answer = call("dacs", mapping.operation(message), json=mapping.to_dacs(message),
                  instance=message["drmsInstanceId"])
    return {"status": 200, "body": mapping.success(message, answer if isinstance(answer, dict)
                                                   else {})}
