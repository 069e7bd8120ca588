"""Helpers of the file-flow tests: CSV factories, posting an upload, waiting for a job."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import support

RESERVATIONS = "/api/v1/derms/event-device-reservations"
OUTCOMES = "/api/v1/derms/event-device-outcomes"

RESERVATION_COLUMNS = ("recordId", "nicId", "headEndSystem", "servicePointId", "deviceType")
OUTCOME_COLUMNS = ("recordId", "eventId", "nicId", "headEndSystem", "outcome",
                   "participationStartDateTimeISO", "participationEndDateTimeISO", "errorMessage")
OUTCOME_VALUES = ("SUCCESS", "ERROR", "NON_RESPONSIVE", "OVERRIDE", "CANCELLED")


def reservation_row(i: int) -> dict[str, str]:
    return {"recordId": str(i), "nicId": f"NIC{i:07d}",
            "headEndSystem": "ECOBEE" if i % 2 else "NEST", "servicePointId": f"SP{i}",
            "deviceType": "THERMOSTAT"}


def outcome_row(i: int, event: str) -> dict[str, str]:
    return {"recordId": str(i), "eventId": event, "nicId": f"NIC{i:07d}", "headEndSystem": "ECOBEE",
            "outcome": OUTCOME_VALUES[i % len(OUTCOME_VALUES)],
            "participationStartDateTimeISO": "2026-12-05T20:00:00.000Z",
            "participationEndDateTimeISO": "2026-12-05T22:00:00.000Z",
            "errorMessage": "" if i % 7 else "no telemetry, retried"}


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, str]], *, newline: str = "\n") -> bytes:
    """CSV with ``columns`` in that order (a column not in a row is written empty)."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode()


def reservation_csv(count: int, columns: Sequence[str] = RESERVATION_COLUMNS, *,
                    start: int = 1) -> bytes:
    return to_csv(columns, (reservation_row(i) for i in range(start, start + count)))


def write_reservation_csv(path: Path, count: int, columns: Sequence[str], pad: int = 0) -> Path:
    """A big reservation file on disk, written row by row (never built in memory)."""
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        filler = "x" * pad
        for i in range(1, count + 1):
            row = {**reservation_row(i), "note": filler}
            writer.writerow([row.get(c, "") for c in columns])
    return path


def stage_message(**changes: Any) -> dict[str, Any]:
    message = support.example("program-event-stage.json")
    message["messageId"] = f"M-{uuid.uuid4().hex[:10]}"
    message.update(changes)
    return message


def outcome_message(**changes: Any) -> dict[str, Any]:
    message = {"messageId": f"M-{uuid.uuid4().hex[:10]}", "drmsInstanceId": "DERMS1",
               "fileName": "outcomes.csv"}
    message.update(changes)
    return message


BOUNDARY = "hub-test-boundary-7f3a"


def multipart_body(parts: Sequence[tuple[str, str | None, bytes]], *,
                   close: bool = True) -> bytes:
    """A multipart/form-data body with ``parts`` (name, filename, content) in this order (the
    test client always puts files last, so the order cases need a body made by hand)."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename
                                                     else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def upload(stack: Any, path: str, message: Any, content: bytes | Any, *,
           filename: str = "upload.csv", file_first: bool = False, **headers: str) -> Any:
    """POST a multipart upload as DERMS: ``message`` (JSON) and ``file``."""
    raw = message if isinstance(message, (str, bytes)) else json.dumps(message)
    if file_first:
        assert isinstance(content, bytes)
        raw_bytes = raw.encode() if isinstance(raw, str) else raw
        body = multipart_body([("file", filename, content), ("message", None, raw_bytes)])
        return stack.post(path, as_client="derms", data=body, headers=headers,
                          content_type=f"multipart/form-data; boundary={BOUNDARY}")
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    parts: dict[str, Any] = {"message": raw, "file": (stream, filename, "text/csv")}
    return stack.post(path, as_client="derms", data=parts, content_type="multipart/form-data",
                      headers=headers)


def accepted(response: Any) -> str:
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["jobId"]


def wait_job(stack: Any, job_id: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
    """Poll GET /api/v1/jobs/{id} until the job is in one of ``statuses`` (default: finished)."""
    wanted = statuses or ("SUCCEEDED", "FAILED")

    def check() -> Any:
        job = stack.get(f"/api/v1/jobs/{job_id}").get_json()
        return job if job.get("status") in wanted else None

    return support.wait_for(check, timeout, what=f"job {job_id} {'/'.join(wanted)}")


def acks(sandbox_control: Any, op: str) -> list[dict[str, Any]]:
    return [c["json"] for c in sandbox_control.calls(system="derms", op=op)]


def wait_acks(sandbox_control: Any, op: str, count: int = 1, timeout: float = 30,
              message_id: str | None = None) -> list[dict[str, Any]]:
    def check() -> Any:
        found = [a for a in acks(sandbox_control, op)
                 if message_id is None or a.get("messageId") == message_id]
        return found if len(found) >= count else None

    return support.wait_for(check, timeout, what=f"{count} {op} ack(s)")


def reservation(sandbox_control: Any, event: str, stage: str) -> dict[str, Any] | None:
    state = sandbox_control.state(record_ids=True)
    for item in state["dacs"]["reservations"]:
        if item["eventExternalIdentifier"] == event and item["externalIdentifier"] == stage:
            return item
    return None


def wait_mails(mailbox: Any, job_id: str, count: int = 1, timeout: float = 20) -> list[Any]:
    """The emails about ``job_id`` (mail of an earlier test may still arrive during this one)."""
    def check() -> Any:
        found = [m for m in mailbox.messages()
                 if job_id in m.get_body(("plain",)).get_content()]
        return found if len(found) >= count else None

    return support.wait_for(check, timeout, what=f"{count} email(s) about {job_id}")
