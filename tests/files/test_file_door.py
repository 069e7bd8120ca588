"""The file flows' front door alone (no worker): what is accepted, staged, refused, left behind."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from conftest import Stack
from files.filetools import (
    BOUNDARY,
    OUTCOMES,
    RESERVATIONS,
    accepted,
    multipart_body,
    outcome_message,
    reservation_csv,
    stage_message,
    to_csv,
    upload,
)

from tasks.app import queue_depth


def staged_files(stack: Any) -> list[Path]:
    root = Path(stack.config.staging_url)
    return sorted(p for p in root.iterdir()) if root.exists() else []


def assert_nothing_left(stack: Any) -> None:
    assert staged_files(stack) == []
    assert queue_depth("hub.files") == 0
    tmp = stack.config.var_dir / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


def test_accepted_upload_is_staged_byte_for_byte_under_a_key_of_the_hubs_own(door: Any) -> None:
    content = reservation_csv(1500)
    message = stage_message()
    response = upload(door, RESERVATIONS, message, content, filename="../../etc/passwd")
    job_id = accepted(response)
    assert response.get_json()["statusUrl"] == f"/api/v1/jobs/{job_id}"
    [staged] = staged_files(door)
    assert staged.read_bytes() == content
    assert staged.name.endswith(".csv") and "passwd" not in staged.name
    job = door.ledger.get_job(job_id)
    assert job["flow"] == "event_device_reservation" and job["status"] == "QUEUED"
    assert job["input"]["file"] == {"key": staged.name, "bytes": len(content),
                                    "fileName": "../../etc/passwd", "empty": False}
    assert job["input"]["message"] == message
    assert queue_depth("hub.files") == 1


def test_the_file_part_may_come_first(door: Any) -> None:
    content = to_csv(("nicId", "recordId", "headEndSystem"), [{"recordId": "1", "nicId": "N",
                                                              "headEndSystem": "H"}])
    job_id = accepted(upload(door, RESERVATIONS, stage_message(), content, file_first=True))
    [staged] = staged_files(door)
    assert staged.read_bytes() == content
    assert door.ledger.get_job(job_id)["input"]["file"]["key"] == staged.name
    assert list((door.config.var_dir / "tmp").iterdir()) == []  # the spool is gone


def test_a_missing_column_is_a_400_naming_it_and_nothing_is_left(door: Any) -> None:
    content = to_csv(("recordId", "headEndSystem", "deviceType"), [{"recordId": "1"}])
    message = stage_message()
    response = upload(door, RESERVATIONS, message, content)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["errors"] == {"file.header": ["missing column nicId"]}
    assert_nothing_left(door)
    # the key was released: the corrected file under the same messageId is taken
    accepted(upload(door, RESERVATIONS, message, reservation_csv(2)))


def test_a_bad_outcome_header_names_every_missing_column(door: Any) -> None:
    content = b"recordId,eventId,nicId,outcome\n1,EV-1,N,SUCCESS\n"
    response = upload(door, OUTCOMES, outcome_message(), content, file_first=True)
    assert response.status_code == 400
    assert response.get_json()["errors"]["file.header"] == [
        "missing column headEndSystem", "missing column participationStartDateTimeISO",
        "missing column participationEndDateTimeISO"]
    assert_nothing_left(door)


@pytest.mark.parametrize(("message", "field"), [
    ("{not json", "message"),
    ({"messageId": "M-1", "eventId": "EV-1"}, "message.stageId"),
    ({"messageId": "M-1", "eventId": "EV-1", "stageId": "S", "surprise": 1}, "message.surprise"),
])
def test_a_bad_message_is_a_400_naming_the_field(door: Any, message: Any, field: str) -> None:
    response = upload(door, RESERVATIONS, message, reservation_csv(3))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert field in response.get_json()["errors"]
    assert_nothing_left(door)


def test_missing_and_unknown_parts_and_wrong_content_type(door: Any) -> None:
    only_message = door.post(RESERVATIONS, as_client="derms", content_type="multipart/form-data",
                             data={"message": json.dumps(stage_message())})
    assert only_message.status_code == 400
    assert only_message.get_json()["errors"] == {"file": ["missing part"]}
    extra = door.post(RESERVATIONS, as_client="derms", content_type="multipart/form-data",
                      data={"message": json.dumps(stage_message()), "other": "x",
                            "file": (io.BytesIO(reservation_csv(1)), "f.csv")})
    assert extra.status_code == 400 and "other" in extra.get_json()["errors"]
    as_json = door.post(RESERVATIONS, as_client="derms", json=stage_message())
    assert as_json.status_code == 400 and "Content-Type" in as_json.get_json()["errors"]
    assert_nothing_left(door)


def test_a_truncated_body_is_a_400_and_leaves_nothing(door: Any) -> None:
    body = multipart_body([("message", None, json.dumps(stage_message()).encode()),
                           ("file", "f.csv", reservation_csv(50))], close=False)
    response = door.post(RESERVATIONS, as_client="derms", data=body[:-2],
                         content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 400
    assert_nothing_left(door)


def test_the_same_message_while_the_first_is_queued_is_a_409_and_stages_nothing(
        door: Any) -> None:
    message = stage_message()
    first = accepted(upload(door, RESERVATIONS, message, reservation_csv(5)))
    again = upload(door, RESERVATIONS, message, reservation_csv(5))
    assert again.status_code == 409 and again.get_json()["jobId"] == first
    assert len(staged_files(door)) == 1
    assert queue_depth("hub.files") == 1


def test_an_empty_file_is_accepted_for_a_failure_ack(door: Any) -> None:
    job_id = accepted(upload(door, OUTCOMES, outcome_message(), b""))
    assert door.ledger.get_job(job_id)["input"]["file"]["empty"] is True


def test_a_blank_first_line_before_data_is_a_header_error(door: Any) -> None:
    response = upload(door, RESERVATIONS, stage_message(), b"\n" + reservation_csv(2))
    assert response.status_code == 400
    assert "first line must be the header" in response.get_json()["errors"]["file.header"][0]


def test_only_derms_may_upload(door: Any) -> None:
    response = door.post(RESERVATIONS, as_client="dacs", content_type="multipart/form-data",
                         data={"message": json.dumps(stage_message()),
                               "file": (io.BytesIO(reservation_csv(1)), "f.csv")})
    assert response.status_code == 403
    assert_nothing_left(door)


@pytest.fixture
def small_door(tmp_path: Path) -> Iterator[Stack]:
    overrides = support.door_overrides(tmp_path / "var", **{"upload.max.bytes": 4096})
    stack = Stack("door", support.make_config(overrides),
                  support.write_config_file(tmp_path / "hub.conf", overrides), None)
    yield stack.activate()


def test_an_oversize_upload_is_a_413_and_leaves_nothing(small_door: Any) -> None:
    response = upload(small_door, RESERVATIONS, stage_message(), reservation_csv(500))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert_nothing_left(small_door)
    accepted(upload(small_door, RESERVATIONS, stage_message(), reservation_csv(5)))


def test_an_oversize_stream_without_length_is_cut_off_and_leaves_nothing(small_door: Any) -> None:
    """A chunked upload has no Content-Length: the limit is enforced while staging."""
    body = multipart_body([("message", None, json.dumps(stage_message()).encode()),
                           ("file", "f.csv", reservation_csv(500))])
    environ = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
               "REQUEST_METHOD": "POST", "PATH_INFO": RESERVATIONS,
               "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "HTTP_AUTHORIZATION": support.basic("derms")["Authorization"]}
    statuses: list[str] = []
    output = b"".join(small_door.app.wsgi_app(environ, lambda s, h, e=None: statuses.append(s)))
    assert statuses[0].startswith("413"), output
    assert_nothing_left(small_door)
