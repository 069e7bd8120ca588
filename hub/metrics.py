"""Prometheus metrics. Names and meanings are listed in docs/operations.md."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES_ACCEPTED = Counter("hub_messages_accepted_total", "Messages accepted by the front door",
                            ["flow"])
MESSAGES_REFUSED = Counter("hub_messages_refused_total", "Requests refused by the front door",
                           ["flow", "status"])
OUTBOUND_CALLS = Counter("hub_outbound_calls_total", "Outbound calls by target, operation and status",
                         ["target", "op", "status"])
TASK_RETRIES = Counter("hub_task_retries_total", "Task retries after a transient error", ["task"])
DEAD_LETTERS = Counter("hub_dead_letters_total", "Work recorded in the dead-letter ledger", ["flow"])
SEGMENT_SECONDS = Histogram("hub_segment_seconds", "Time to post one file segment", ["flow"])
