"""Common OS Transfer: ``POST /api/v1/common/os-transfers``, multipart, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.multipart import accept_upload, stage_stream
from mappings import common_transfers as mapping

FLOW = register(Flow(
    name=mapping.OS_FLOW, method="POST", path="/api/v1/common/os-transfers", client="ops",
    mode="sync", task="common_os_transfer.put", schema=mapping.OsTransferSchema,
    multipart=True,
    summary="Put the file part into a bucket of DACS's object store (S3 compatibility API)",
    answers={200: "transferred: {namespace, bucket, objectName, bytes, status}",
             502: "the object store refused or stayed unreachable"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def common_os_transfer() -> Response:
    # No message id: only an Idempotency-Key header makes a replay.
    return accept_upload(FLOW, message_id=lambda m: None,
                         stage=lambda stream: stage_stream(stream, suffix=""))
