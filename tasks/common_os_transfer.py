"""Common OS Transfer: put a staged file into a bucket of DACS's object store (OCI Object
Storage's S3 compatibility API, or any S3-compatible store). OIC's "OU DACS Common OS Transfer"
child flow."""

from __future__ import annotations

from typing import Any

from hub import runtime
from hub.transfers import Destination, put_staged
from hub.transports import TransportError
from mappings.common_transfers import OS_FLOW
from tasks.app import celery_app
from tasks.base import HubTask

__all__ = ["put"]


def destination(message: dict[str, Any]) -> Destination:
    return Destination("os", message["objectName"], bucket=message["bucket"],
                       namespace=message["namespace"])


@celery_app.task(bind=True, base=HubTask, name="common_os_transfer.put", flow=OS_FLOW,
                 fail_on=(HubTask.fail_on + (TransportError,)))
def put(self: HubTask, message: dict[str, Any], staged: dict[str, Any],
        job_id: str) -> dict[str, Any]:
    """One upload (an object becomes visible whole or not at all); errors as for the FTP put."""
    rt = runtime.get()
    size = put_staged(rt.config, rt.ledger, job_id, destination(message), staged)
    return {"status": 200, "body": {**message, "bytes": size, "status": "TRANSFERRED"}}
