"""Common FTP Transfer and Common OS Transfer end to end: multipart upload through the door,
staged on disk, put by a real worker on the real SFTP server / S3 store; 200 or a 502 fault."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest
from transfers.xfer_support import COMMON_BUCKET, XferStack, bucket_names, unique

FTP = "/api/v1/common/ftp-transfers"
OS = "/api/v1/common/os-transfers"


def upload(xstack: XferStack, path: str, message: Any, data: bytes | None,
           as_client: str = "ops", message_as_file: bool = False, **headers: str) -> Any:
    form: dict[str, Any] = {}
    if message is not None:
        text = message if isinstance(message, str) else json.dumps(message)
        form["message"] = ((io.BytesIO(text.encode()), "message.json", "application/json")
                           if message_as_file else text)
    if data is not None:
        form["file"] = (io.BytesIO(data), "upload.csv", "text/csv")
    return xstack.post(path, as_client=as_client, data=form, content_type="multipart/form-data",
                       headers=headers)


def nothing_left_behind(xstack: XferStack) -> None:
    assert xstack.staged() == [] and xstack.spooled() == []


def test_ftp_transfer_puts_the_file_in_the_directory(xstack: XferStack, mailbox: Any) -> None:
    name = f"SPNL_{unique()}.csv"
    data = os.urandom(2 * 1024 * 1024 + 3)
    response = upload(xstack, FTP, {"directory": "common", "fileName": name}, data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"directory": "common", "fileName": name,
                                   "bytes": len(data), "status": "TRANSFERRED"}
    assert (xstack.sftp_root / "common" / name).read_bytes() == data
    assert os.listdir(xstack.sftp_root / "common") == [name]  # no temporary file left
    nothing_left_behind(xstack)
    job = xstack.ledger.get_job(response.headers["X-Job-ID"])
    assert job["flow"] == "common_ftp_transfer" and job["status"] == "SUCCEEDED"
    # The task got a reference to the staged file, never the bytes.
    assert job["input"]["file"] == {"key": job["input"]["file"]["key"], "bytes": len(data),
                                    "fileName": "upload.csv"}
    assert mailbox.messages() == []


def test_ftp_transfer_with_an_absolute_directory_and_the_message_as_a_file_part(
        xstack: XferStack) -> None:
    name = f"abs_{unique()}.csv"
    directory = str(xstack.sftp_root / "common")
    response = upload(xstack, FTP, {"directory": directory, "fileName": name}, b"a,b\n",
                      message_as_file=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (xstack.sftp_root / "common" / name).read_bytes() == b"a,b\n"


def test_os_transfer_puts_the_object_in_the_bucket(xstack: XferStack) -> None:
    name = f"score_{unique()}.csv"
    data = os.urandom(9 * 1024 * 1024)  # above the multipart threshold
    response = upload(xstack, OS, {"namespace": "hubtest", "bucket": COMMON_BUCKET,
                                   "objectName": name}, data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["bytes"] == len(data)
    assert bucket_names(xstack.s3, COMMON_BUCKET) == [name]
    body = xstack.s3.client().get_object(Bucket=COMMON_BUCKET, Key=name)["Body"].read()
    assert body == data
    nothing_left_behind(xstack)


def test_a_missing_directory_is_a_502_fault_with_the_error_email(
        xstack: XferStack, mailbox: Any) -> None:
    response = upload(xstack, FTP, {"directory": "no-such-dir", "fileName": "x.csv"}, b"x")
    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["detail"].startswith("DACS FTP call failed:")
    assert "no-such-dir" in problem["detail"]
    [mail] = mailbox.wait(1)
    assert mail["To"] == "errors@utility.test"
    assert "common_ftp_transfer" in mail.get_body(("plain",)).get_content()
    # Kept for ``hub failed requeue``: the dead letter points at the staged file.
    [dead] = [d for d in xstack.ledger.list_dead_letters(flow="common_ftp_transfer")
              if d["job_id"] == problem["jobId"]]
    assert dead["input"]["kwargs"]["staged"]["key"] in xstack.staged()


def test_an_unknown_bucket_is_a_502_fault(xstack: XferStack, mailbox: Any) -> None:
    response = upload(xstack, OS, {"namespace": "hubtest", "bucket": "no-such-bucket",
                                   "objectName": "x.csv"}, b"x")
    assert response.status_code == 502
    assert response.get_json()["detail"].startswith("DACS OS call failed:")
    mailbox.wait(1)


@pytest.mark.parametrize("path,message,field", [
    (FTP, {"directory": "common", "fileName": "../escape.csv"}, "message.fileName"),
    (FTP, {"directory": "common", "fileName": "..\\escape.csv"}, "message.fileName"),
    (FTP, {"directory": "common/../../etc", "fileName": "passwd"}, "message.directory"),
    (FTP, {"directory": "common", "fileName": ".hidden"}, "message.fileName"),
    (FTP, {"directory": "common", "fileName": "x.csv\r\nDELE y"}, "message.fileName"),
    (OS, {"namespace": "hubtest", "bucket": COMMON_BUCKET, "objectName": "../x.csv"},
     "message.objectName"),
    (OS, {"namespace": "hubtest", "bucket": "../x", "objectName": "x.csv"}, "message.bucket"),
])
def test_a_name_that_is_a_path_is_refused_and_nothing_is_staged(
        xstack: XferStack, path: str, message: dict[str, Any], field: str) -> None:
    jobs_before = len(xstack.ledger.list_jobs())
    response = upload(xstack, path, message, b"secret" * 1000)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    nothing_left_behind(xstack)
    assert len(xstack.ledger.list_jobs()) == jobs_before
    assert not (xstack.sftp_root / "escape.csv").exists()
    assert os.listdir(xstack.sftp_root / "common") == []


@pytest.mark.parametrize("message,data,field", [
    (None, b"x", "message"),
    ({"directory": "common", "fileName": "x.csv"}, None, "file"),
    ("{not json", b"x", "message"),
    ({"directory": "common"}, b"x", "message.fileName"),
])
def test_missing_or_bad_parts_are_refused(xstack: XferStack, message: Any, data: Any,
                                          field: str) -> None:
    response = upload(xstack, FTP, message, data)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    nothing_left_behind(xstack)


def test_only_ops_may_call_and_only_multipart(xstack: XferStack) -> None:
    message = {"directory": "common", "fileName": "x.csv"}
    assert upload(xstack, FTP, message, b"x", as_client="derms").status_code == 403
    response = xstack.post(FTP, json=message)
    assert response.status_code == 400 and "Content-Type" in response.get_json()["errors"]
    nothing_left_behind(xstack)


def test_a_replayed_idempotency_key_gives_the_first_answer(xstack: XferStack) -> None:
    name = f"idem_{unique()}.csv"
    message = {"directory": "common", "fileName": name}
    key = {"Idempotency-Key": unique("k-")}
    first = upload(xstack, FTP, message, b"one", **key)
    os.remove(xstack.sftp_root / "common" / name)
    second = upload(xstack, FTP, message, b"one", **key)
    assert first.status_code == second.status_code == 200
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert second.get_json() == first.get_json()
    assert not (xstack.sftp_root / "common" / name).exists()  # not put twice
    nothing_left_behind(xstack)
