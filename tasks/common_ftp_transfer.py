"""Common FTP Transfer: put a staged file into a directory on DACS's file server (SFTP, FTP or
FTPS, as ``dacs.ftp.url`` says), atomically. OIC's "OU DACS Common FTP Transfer" child flow."""

from __future__ import annotations

from typing import Any

from hub import runtime
from hub.transfers import Destination, put_staged
from hub.transports import TransportError
from mappings.common_transfers import FTP_FLOW
from tasks.app import celery_app
from tasks.base import HubTask

__all__ = ["put"]


def destination(message: dict[str, Any]) -> Destination:
    return Destination("ftp", message["fileName"], directory=message["directory"])


@celery_app.task(bind=True, base=HubTask, name="common_ftp_transfer.put", flow=FTP_FLOW,
                 fail_on=(HubTask.fail_on + (TransportError,)))
def put(self: HubTask, message: dict[str, Any], staged: dict[str, Any],
        job_id: str) -> dict[str, Any]:
    """One atomic put. A dropped connection is retried (``http.retry.max``); a refusal (no such
    directory, permission, host key) is the door's 502 fault and the error email. The staged
    file is removed once delivered, kept for ``hub failed requeue`` otherwise."""
    rt = runtime.get()
    size = put_staged(rt.config, rt.ledger, job_id, destination(message), staged)
    return {"status": 200, "body": {**message, "bytes": size, "status": "TRANSFERRED"}}
