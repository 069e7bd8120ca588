"""Common Error Handler (ops): ``POST /api/v1/common/errors``, answered 202."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from hub.ledger import iso, utcnow
from mappings import common_errors as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/common/errors", client="ops", mode="async",
    task="common_errors.report", schema=mapping.ErrorReportSchema,
    summary="Send the error email for a reported error (flags and recipients from config)",
    answers={202: "accepted"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def common_errors() -> Response:
    report = load_message(FLOW.schema, read_json())
    report.setdefault("time", iso(utcnow()))
    intake = Intake(FLOW, None)
    return intake.start() or intake.commit(input={"message": report},
                                           task_kwargs={"report": report})
