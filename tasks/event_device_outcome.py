"""Event Device Outcome (DERMS -> DACS): postEventOutcome per event per segment, one ack.

The steps are the shared file-flow machinery (:mod:`tasks.file_segments`); this module says
what is particular to outcomes: the columns, the outcome codes, one call per event, the ack.
"""

from __future__ import annotations

from typing import Any

from mappings import event_device_outcome as mapping
from tasks import file_segments
from tasks.app import celery_app
from tasks.file_segments import FileFlow, FinishTask, SegmentTask, StartTask

SPEC = file_segments.register(FileFlow(
    name=mapping.FLOW, columns=mapping.COLUMNS, dacs_op="post_event_outcome",
    ack_op="event_outcome_ack", context=mapping.context, subject=mapping.subject,
    map_row=mapping.to_outcome, bodies=mapping.outcome_bodies, ack=mapping.ack))


@celery_app.task(bind=True, base=StartTask, name=SPEC.start_task, flow=SPEC.name)
def start(self: StartTask, message: dict[str, Any], staged: dict[str, Any],
          job_id: str) -> dict[str, Any]:
    """Health check, cut the staged file into segments, send them as a chord."""
    return file_segments.start(SPEC, self, message=message, staged=staged, job_id=job_id)


@celery_app.task(bind=True, base=SegmentTask, name=SPEC.segment_task, flow=SPEC.name)
def segment(self: SegmentTask, seq: int, segment: dict[str, Any], context: dict[str, Any],
            job_id: str) -> dict[str, Any]:
    """One postEventOutcome call per event among the segment's rows."""
    return file_segments.run_segment(SPEC, self, job_id=job_id, seq=seq, segment=segment,
                                     context=context)


@celery_app.task(bind=True, base=FinishTask, name=SPEC.finish_task, flow=SPEC.name)
def finish(self: FinishTask, job_id: str, failure: dict[str, Any] | None = None,
           takeover: bool = False) -> dict[str, Any]:
    """The event outcome ack, the job's end, the emails."""
    return file_segments.finish(SPEC, self, job_id=job_id, failure=failure, takeover=takeover)
