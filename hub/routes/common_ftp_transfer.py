"""Common FTP Transfer: ``POST /api/v1/common/ftp-transfers``, multipart, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.multipart import accept_upload, stage_stream
from mappings import common_transfers as mapping

FLOW = register(Flow(
    name=mapping.FTP_FLOW, method="POST", path="/api/v1/common/ftp-transfers", client="ops",
    mode="sync", task="common_ftp_transfer.put", schema=mapping.FtpTransferSchema,
    multipart=True,
    summary="Put the file part into a directory on DACS's file server (SFTP/FTP/FTPS), "
            "atomically",
    answers={200: "transferred: {directory, fileName, bytes, status}",
             502: "the file server refused or stayed unreachable"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def common_ftp_transfer() -> Response:
    # No message id: only an Idempotency-Key header makes a replay.
    return accept_upload(FLOW, message_id=lambda m: None,
                         stage=lambda stream: stage_stream(stream, suffix=""))
