"""SP Network Location Transfer (DERMS -> DACS): put DERMS's file, untransformed, where the
transfer preference says (see :func:`mappings.sp_network_location.destination`), then send the
process-complete email, on success and on failure. A failure also sends the error email (the
task base class does). There is no ack to DERMS."""

from __future__ import annotations

from typing import Any

from hub import runtime
from hub.config import ConfigError
from hub.ledger import iso, utcnow
from hub.transfers import put_staged
from hub.transports import TransportError
from mappings import sp_network_location as mapping
from tasks.app import celery_app
from tasks.base import HubTask, failure_report

__all__ = ["transfer"]


def _process_email(job_id: str, message: dict[str, Any], *, ok: bool, detail: str) -> None:
    from tasks.common_errors import process_email

    name = message.get("fileName")
    process_email.apply_async(kwargs={"kind": "process_complete", "context": {
        "flow": mapping.FLOW, "job_id": job_id, "time": iso(utcnow()),
        "status": "SUCCESS" if ok else "FAILED",
        "counts": {"files transferred": 1 if ok else 0, "files not transferred": 0 if ok else 1},
        "files_sent": [name] if ok else [], "files_not_sent": [] if ok else [name],
        "details": [f"message {message.get('messageId')}", detail]}})


class _Transfer(HubTask):
    def fallback(self, exc: BaseException, *args: Any, **kwargs: Any) -> Any:
        """The transfer failed for good: the process-complete email says so too (the guide's
        "can contain a success or error file transfer information"); the failure itself is
        then recorded and re-raised as usual."""
        _process_email(kwargs["job_id"], kwargs.get("message") or {}, ok=False,
                       detail=f"error: {failure_report(exc)['message']}")
        return None


@celery_app.task(bind=True, base=_Transfer, name="sp_network_location.transfer",
                 flow=mapping.FLOW,
                 fail_on=(HubTask.fail_on + (TransportError, ConfigError)))
def transfer(self: HubTask, message: dict[str, Any], staged: dict[str, Any],
             job_id: str) -> dict[str, Any]:
    rt = runtime.get()
    destination = mapping.destination(rt.config, message)
    size = put_staged(rt.config, rt.ledger, job_id, destination, staged)
    _process_email(job_id, message, ok=True, detail=f"delivered {destination.describe()}")
    return {"messageId": message["messageId"], "destination": destination.as_dict(),
            "bytes": size}
