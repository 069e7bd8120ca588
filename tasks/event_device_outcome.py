"""Event Device Outcome (DERMS -> DACS): postEventOutcome per event per segment, one ack.

The steps are the shared file-flow machinery (:mod:`tasks.file_segments`); this module says
what is particular to outcomes: the columns, the outcome codes, one call per event, the ack.
"""

from __future__ import annotations

from mappings import event_device_outcome as mapping
from tasks import file_segments
from tasks.file_segments import FileFlow

SPEC = file_segments.register(FileFlow(
    name=mapping.FLOW, columns=mapping.COLUMNS, dacs_op="post_event_outcome",
    ack_op="event_outcome_ack", context=mapping.context, subject=mapping.subject,
    map_row=mapping.to_outcome, bodies=mapping.outcome_bodies, ack=mapping.ack))

# event_device_outcome.start, event_device_outcome.segment, event_device_outcome.finish
start, segment, finish = file_segments.define_tasks(SPEC)
