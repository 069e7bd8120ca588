"""SP Network Location Transfer (DERMS): ``POST /api/v1/derms/sp-network-locations``,
multipart, asynchronous (202, no ack)."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.multipart import accept_upload
from mappings import sp_network_location as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/derms/sp-network-locations",
    client="derms", mode="async", task="sp_network_location.transfer",
    schema=mapping.SpNetworkLocationSchema, multipart=True,
    summary="DERMS's SP network location CSV to DACS's file server or object store "
            "(dacs.file.target.transfer.pref), untransformed",
    answers={202: "accepted; the process-complete email follows"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def sp_network_location() -> Response:
    return accept_upload(FLOW, message_id=lambda m: m["messageId"], allow_empty=False)
