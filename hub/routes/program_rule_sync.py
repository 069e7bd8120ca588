"""Program Rule Sync (DACS): ``POST /api/v1/dacs/program-rule-syncs``, synchronous."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import program_rule_sync as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/dacs/program-rule-syncs", client="dacs",
    mode="sync", task="program_rule_sync.send", schema=mapping.ProgramRuleSyncSchema,
    summary="DACS program and rules to DERMS /update-program; then the ack to DACS",
    answers={200: "DERMS took it; the ack to DACS follows", 502: "DERMS fault"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def program_rule_sync() -> Response:
    message = load_message(FLOW.schema, read_json())
    intake = Intake(FLOW, mapping.message_id(message))
    return intake.start() or intake.commit(input={"message": message},
                                           task_kwargs={"message": message})
