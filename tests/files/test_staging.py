"""The staging store, local and S3 (moto in server mode): one contract for both, then a file
flow end to end with its files staged on S3, as when workers run on several hosts."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from files.filetools import (
    RESERVATIONS,
    accepted,
    reservation,
    reservation_csv,
    stage_message,
    to_csv,
    upload,
    wait_acks,
    wait_job,
)

from hub.staging import delete_quietly, new_key, staging_from_url
from hub.transports.base import TransportNotFound


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "local":
        staging = staging_from_url(str(tmp_path / "staging"))
    else:
        server = request.getfixturevalue("s3_server")
        options = server.overrides(f"unit-{uuid.uuid4().hex[:6]}")
        staging = staging_from_url(options["staging.url"],
                                   endpoint_url=options["staging.s3.endpoint.url"],
                                   region="us-east-1",
                                   access_key_id=options["staging.s3.access.key.id"],
                                   secret_access_key=options["staging.s3.secret.access.key"])
    yield staging
    staging.close()


def test_put_open_range_list_delete(store: Any) -> None:
    data = bytes(range(256)) * 1000
    key = new_key()
    assert store.put(key, io.BytesIO(data)) == len(data)
    assert [e.name for e in store.list()] == [key]
    for start, end in ((0, 10), (1000, 5000), (len(data) - 7, len(data)), (50, 50)):
        with store.open_range(key, start, end) as stream:
            assert stream.read(end - start) == data[start:end]
    with store.open(key) as stream:
        assert stream.read() == data
    store.delete(key)
    assert store.list() == []
    with pytest.raises(TransportNotFound):
        store.delete(key)
    assert delete_quietly(store, key) is False


def test_a_failed_put_leaves_nothing(store: Any) -> None:
    class Broken(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if self.sent > 3:
                raise OSError("the client went away")
            self.sent += 1
            buffer[:4] = b"abcd"
            return 4

    with pytest.raises(OSError, match="went away"):
        store.put(new_key(), io.BufferedReader(Broken()))
    assert store.list() == []


def test_keys_are_the_hubs_own() -> None:
    assert new_key() != new_key()
    assert new_key().endswith(".csv") and len(new_key()) == 36


def test_staging_urls(tmp_path: Path) -> None:
    assert staging_from_url(f"file://{tmp_path}/a").root == tmp_path / "a"
    assert (tmp_path / "a").is_dir()
    with pytest.raises(ValueError, match="folder or s3"):
        staging_from_url("ftp://host/dir")
    with pytest.raises(ValueError, match="bucket"):
        staging_from_url("s3:///prefix")


def test_a_file_flow_staged_on_s3(own_stack: Any, s3_server: Any, sandbox_control: Any) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:6]}"
    stack = own_stack("redis", **s3_server.overrides(prefix))
    tag = uuid.uuid4().hex[:6]
    message = stage_message(eventId=f"EV-{tag}", stageId=f"S-{tag}")
    content = reservation_csv(2500)
    job_id = accepted(upload(stack, RESERVATIONS, message, content))
    [key] = s3_server.keys(prefix)
    assert s3_server.client().get_object(Bucket=s3_server.BUCKET, Key=key)["Body"].read() == content
    assert stack.ledger.get_job(job_id)["input"]["file"]["key"] == key.split("/", 1)[1]
    job = wait_job(stack, job_id)
    assert job["status"] == "SUCCEEDED" and job["progress"] == {"done": 3, "total": 3}
    stored = reservation(sandbox_control, message["eventId"], message["stageId"])
    assert stored["count"] == 2500 and stored["duplicates"] == 0
    assert wait_acks(sandbox_control, "event_reservation_ack")[0]["ackType"] == "SUCCESS"
    # a refused upload leaves no object behind
    bad = upload(stack, RESERVATIONS, stage_message(), to_csv(("recordId",), [{"recordId": "1"}]))
    assert bad.status_code == 400
    assert s3_server.keys(prefix) == [key]
