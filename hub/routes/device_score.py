"""Device Score transfer, run now: ``POST /api/v1/schedules/device-score/run`` (ops), 202.

Beat runs the same task on ``device.score.schedule``; this starts one run at once. Runs may
overlap: each file is claimed in the ledger before it is read, so none is sent twice.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from hub import runtime
from hub.auth import require
from hub.flows import Flow, register
from hub.intake import Intake, load_message, read_json
from mappings import device_score as mapping

FLOW = register(Flow(
    name=mapping.FLOW, method="POST", path="/api/v1/schedules/device-score/run", client="ops",
    mode="async", task="device_score.run", schema=mapping.DeviceScoreRunSchema,
    summary="Run the Device Score transfer now: {source: ftp|os}, or an empty body for "
            "dacs.file.target.transfer.pref",
    answers={202: "queued; the job's result lists the files sent and not sent"}))

bp = Blueprint(FLOW.name, __name__)


@bp.post(FLOW.path)
@require(FLOW.client)
def run_device_score() -> Response:
    # An empty body (with or without a JSON content type) means "the configured source".
    empty = not request.get_data(cache=True).strip()
    message = {} if empty else load_message(FLOW.schema, read_json())
    source = message.get("source") or runtime.get().config["dacs.file.target.transfer.pref"]
    intake = Intake(FLOW, None)
    return intake.start() or intake.commit(input={"source": source, "trigger": "run-now"},
                                           task_kwargs={"source": source})
