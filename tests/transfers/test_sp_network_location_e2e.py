"""SP Network Location Transfer end to end: DERMS's multipart upload, 202, the file put where
the transfer preference says, untransformed, and the process-complete email."""

from __future__ import annotations

import io
import json
import os
import shutil
from typing import Any

from transfers.xfer_support import SPNL_BUCKET, XferStack, bucket_names, unique

import support
from hub import runtime

PATH = "/api/v1/derms/sp-network-locations"
CSV = (b"servicePointId,transformerId,feederId,substationId\n"
       b"SP1,TX-9,FD-2,SUB-1\nSP2,TX-9,FD-2,SUB-1\n")


def send(xstack: XferStack, message: dict[str, Any], data: bytes = CSV,
         as_client: str = "derms") -> Any:
    return xstack.post(PATH, as_client=as_client, content_type="multipart/form-data", data={
        "message": json.dumps(message), "file": (io.BytesIO(data), "upload.csv", "text/csv")})


def test_the_file_goes_to_the_ftp_directory_untransformed_with_the_process_email(
        xstack: XferStack, mailbox: Any) -> None:
    message = {"messageId": unique("M-"), "fileName": f"SPNL_{unique()}.csv"}
    response = send(xstack, message)
    assert response.status_code == 202, response.get_data(as_text=True)
    accepted = response.get_json()
    assert accepted["status"] == "QUEUED"
    job = xstack.wait_job(accepted["jobId"])
    assert job["status"] == "SUCCEEDED", job
    assert (xstack.sftp_root / "spnl" / message["fileName"]).read_bytes() == CSV
    assert job["result"]["destination"] == {"kind": "ftp", "name": message["fileName"],
                                            "directory": "spnl"}
    assert xstack.staged() == [] and xstack.spooled() == []
    [mail] = mailbox.wait(1)
    assert mail["To"] == "ops@utility.test"
    assert "SUCCESS" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert message["fileName"] in text and message["messageId"] in text
    # DERMS gets no ack for this flow.
    assert runtime.get().ledger.get_job(accepted["jobId"])["client"] == "derms"


def test_a_replayed_message_id_is_not_transferred_twice(xstack: XferStack,
                                                        mailbox: Any) -> None:
    message = {"messageId": unique("M-"), "fileName": f"SPNL_{unique()}.csv"}
    first = send(xstack, message)
    xstack.wait_job(first.get_json()["jobId"])
    target = xstack.sftp_root / "spnl" / message["fileName"]
    target.unlink()
    second = send(xstack, message)
    assert second.status_code == 202
    assert second.get_json()["jobId"] == first.get_json()["jobId"]
    assert not target.exists()
    assert xstack.staged() == []
    mailbox.wait(1)


def test_a_failed_transfer_sends_the_error_and_the_process_emails(
        xstack: XferStack, mailbox: Any) -> None:
    shutil.rmtree(xstack.sftp_root / "spnl")  # the target directory is gone
    message = {"messageId": unique("M-"), "fileName": f"SPNL_{unique()}.csv"}
    job = xstack.wait_job(send(xstack, message).get_json()["jobId"])
    assert job["status"] == "FAILED"
    assert "spnl" in job["errors"][0]["message"]
    mails = mailbox.wait(2)
    by_to = {m["To"]: m for m in mails}
    assert set(by_to) == {"errors@utility.test", "ops@utility.test"}
    assert "FAILED" in by_to["ops@utility.test"]["Subject"]
    assert message["fileName"] in by_to["ops@utility.test"].get_body(("plain",)).get_content()
    assert message["messageId"] in by_to["errors@utility.test"].get_body(
        ("plain",)).get_content()
    # The staged file was kept: once the directory is back, the failed work is re-queued and
    # the same job finishes.
    from hub.requeue import requeue

    [dead] = [d for d in xstack.ledger.list_dead_letters(flow="sp_network_location")
              if d["job_id"] == job["id"]]
    assert dead["input"]["kwargs"]["staged"]["key"] in xstack.staged()
    (xstack.sftp_root / "spnl").mkdir()
    mailbox.clear()
    requeue(xstack.ledger, dead["id"])
    support.wait_for(lambda: xstack.ledger.get_job(job["id"])["status"] == "SUCCEEDED", 30,
                     what="the re-queued transfer")
    assert (xstack.sftp_root / "spnl" / message["fileName"]).read_bytes() == CSV
    assert xstack.staged() == []
    assert "SUCCESS" in mailbox.wait(1)[0]["Subject"]


def test_refused_uploads_stage_nothing(xstack: XferStack) -> None:
    for message, field in (({"messageId": "M-1", "fileName": "../../SPNL.csv"},
                            "message.fileName"),
                           ({"fileName": "SPNL.csv"}, "message.messageId")):
        response = send(xstack, message)
        assert response.status_code == 400 and field in response.get_json()["errors"]
    empty = send(xstack, {"messageId": "M-2", "fileName": "SPNL.csv"}, data=b"")
    assert empty.status_code == 400 and "file" in empty.get_json()["errors"]
    assert send(xstack, {"messageId": "M-3", "fileName": "S.csv"}, as_client="dacs"
                ).status_code == 403
    assert xstack.staged() == [] and xstack.spooled() == []
    assert os.listdir(xstack.sftp_root / "spnl") == []


def test_with_the_os_preference_the_file_goes_to_the_bucket(
        local_config: Any, xfer_s3: Any, mailbox: Any) -> None:
    """The task itself, in this process, with ``dacs.file.target.transfer.pref = os``."""
    from hub.staging import new_key, open_staging
    from tasks.sp_network_location import transfer

    config = local_config(**{"dacs.file.target.transfer.pref": "os"})
    message = {"messageId": unique("M-"), "fileName": f"SPNL_{unique()}.csv"}
    job_id = unique("spnl-")
    runtime.get().ledger.create_job(job_id, "sp_network_location", input={"message": message})
    key = new_key()
    with open_staging(config) as staging:
        staging.put(key, io.BytesIO(CSV))
    staged = {"key": key, "bytes": len(CSV), "fileName": "upload.csv"}
    result = transfer.apply(kwargs={"message": message, "staged": staged, "job_id": job_id}).get()
    assert result["destination"] == {"kind": "os", "name": message["fileName"],
                                     "bucket": SPNL_BUCKET, "namespace": "hubtest"}
    assert message["fileName"] in bucket_names(xfer_s3, SPNL_BUCKET)
    body = xfer_s3.client().get_object(Bucket=SPNL_BUCKET, Key=message["fileName"])["Body"]
    assert body.read() == CSV
    assert runtime.get().ledger.get_job(job_id)["status"] == "SUCCEEDED"
    with open_staging(config) as staging:
        assert staging.list() == []
