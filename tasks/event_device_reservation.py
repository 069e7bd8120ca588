"""Event Device Reservation (DERMS -> DACS): health check, reserveDevice per segment, one ack.

The steps are the shared file-flow machinery (:mod:`tasks.file_segments`); this module says
what is particular to reservations: the columns, the reserveDevice body, the reservation ack.
"""

from __future__ import annotations

from mappings import event_device_reservation as mapping
from tasks import file_segments
from tasks.file_segments import FileFlow

SPEC = file_segments.register(FileFlow(
    name=mapping.FLOW, columns=mapping.REQUIRED, dacs_op="reserve_device",
    ack_op="event_reservation_ack", context=mapping.context, subject=mapping.subject,
    map_row=mapping.to_device, bodies=mapping.reserve_bodies, ack=mapping.ack))

# event_device_reservation.start, event_device_reservation.segment, event_device_reservation.finish
start, segment, finish = file_segments.define_tasks(SPEC)
