"""Device Score transfer (DACS -> DERMS): the run-now body, and which files a run takes.

The pure rules live here so they are tested without a broker or a server:

* a file is taken when its name starts with ``dacs.dvcScore.extract.filename.prefix``, does not
  carry the sent / not-sent prefix tags (``Sent-`` / ``Error-``), and is at least
  ``device.score.min.age.seconds`` old (so a file DACS is still writing is left for a later run);
* after the post it is renamed ``<tag><name>``;
* the claim that stops two runs from sending one file is keyed by the name *and* the file's
  size and modification time (:func:`claim_key`), so a new extract that DACS writes later under
  a name already sent is a new file, not a file already sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marshmallow import fields, validate

from hub.transports import Entry
from mappings.base import InboundSchema

__all__ = ["FLOW", "SOURCES", "DeviceScoreRunSchema", "eligible", "tagged", "claim_key", "summary"]

FLOW = "device_score"
SOURCES = ("ftp", "os")


class DeviceScoreRunSchema(InboundSchema):
    """``POST /api/v1/schedules/device-score/run``: ``{"source": "ftp"|"os"}``, or an empty
    body, which uses ``dacs.file.target.transfer.pref``."""

    source = fields.String(validate=validate.OneOf(SOURCES))


def eligible(entries: Iterable[Entry], *, prefix: str, tags: Iterable[str], min_age: float,
             now: float) -> tuple[list[Entry], list[Entry]]:
    """Split a listing into ``(taken, too_young)``; every other entry is ignored.

    ``tags`` are the sent / not-sent prefixes: a file already renamed is never taken again, even
    when the extract prefix is empty or is itself a prefix of a tag.
    """
    tags = [t for t in tags if t]
    taken: list[Entry] = []
    young: list[Entry] = []
    for entry in entries:
        if not entry.name.startswith(prefix) or any(entry.name.startswith(t) for t in tags):
            continue
        (young if now - entry.mtime < min_age else taken).append(entry)
    return sorted(taken, key=lambda e: e.name), sorted(young, key=lambda e: e.name)


def tagged(tag: str, name: str) -> str:
    """The name a file gets once handled: ``Sent-DeviceScore_1.csv``."""
    return f"{tag}{name}"


def claim_key(entry: Entry) -> str:
    """The ledger claim name of one version of a remote file."""
    return f"{entry.name}|{entry.size}|{int(entry.mtime)}"


def summary(sent: list[str], not_sent: list[str], skipped: list[str]) -> dict[str, Any]:
    """The counts a run reports (job result and process-complete email)."""
    return {"sent": len(sent), "notSent": len(not_sent), "skipped": len(skipped)}
