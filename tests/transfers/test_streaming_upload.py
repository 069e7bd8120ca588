"""The streamed multipart body of the outbound clients, and the transfers' in-step retries."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from werkzeug.formparser import MultiPartParser

import support
from hub.clients import DownstreamError, MultipartStream, TransientError, make_target
from hub.transfers import with_retries


def parse(body: bytes, stream: MultipartStream) -> Any:
    parser = MultiPartParser()
    return parser.parse(io.BytesIO(body), stream.boundary.encode(), len(body))


def test_the_body_is_valid_multipart_of_the_announced_length(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    seen: list[int] = []
    with path.open("rb") as f:
        stream = MultipartStream([("file", 'Device"Score\r\n_1.csv', f, "text/csv")],
                                 progress=seen.append)
        body = b"".join(iter(lambda: stream.read(7_000), b""))
    assert len(body) == len(stream)
    _, files = parse(body, stream)
    part = files["file"]
    assert part.read() == data
    assert part.mimetype == "text/csv"
    # Quotes and line breaks cannot break out of the header (a receiver decodes the quote).
    assert part.filename == 'Device"Score%0D%0A_1.csv'
    assert b'filename="Device%22Score%0D%0A_1.csv"' in body
    assert seen[-1] == len(data) and seen == sorted(seen)


def test_the_file_is_read_from_its_current_position_in_bounded_pieces(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"HEADERpayload")

    class Recording(io.FileIO):
        sizes: list[int] = []

        def read(self, size: int = -1) -> bytes:  # type: ignore[override]
            self.sizes.append(size)
            return super().read(size)

    with Recording(str(path), "rb") as f:
        f.seek(6)
        stream = MultipartStream([("file", "x", f, "application/octet-stream")])
        body = stream.read(-1)
        assert stream.read(10) == b""
        assert all(0 <= s <= 1024 * 1024 for s in Recording.sizes)
    assert parse(body, stream)[1]["file"].read() == b"payload"


def test_a_file_that_shrinks_while_sent_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    with path.open("rb") as f:
        stream = MultipartStream([("file", "x", f, "application/octet-stream")])
        os.truncate(path, 10)
        with pytest.raises(OSError, match="shrank"):
            stream.read(-1)


def test_a_files_call_streams_the_file_to_derms_with_progress(tmp_path: Path, sandbox: Any,
                                                               sandbox_control: Any) -> None:
    config = support.make_config(support.base_overrides(tmp_path, sandbox_url=sandbox.url,
                                                        smtp_port=9))
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "DeviceScore_1.csv"
    path.write_bytes(data)
    target = make_target(config, "derms")
    sent: list[int] = []
    try:
        with path.open("rb") as f:
            status, body = target.call("device_score", progress=sent.append, files={
                "file": ("DeviceScore_1.csv", f, "application/octet-stream")})
        assert (status, body) == (202, {"status": "ACCEPTED", "fileName": "DeviceScore_1.csv"})
        [got] = sandbox_control.state()["derms"]["deviceScores"]
        assert got["sha256"] == hashlib.sha256(data).hexdigest() and got["size"] == len(data)
        assert got["filename"] == "DeviceScore_1.csv"
        # read in bounded pieces as the socket took them, not whole
        assert sent[-1] == len(data) and len(sent) > 3 and sent == sorted(sent)
        # A refusal keeps its class (never retried) with a streamed body too.
        sandbox_control.fail("derms", "device_score", status=400, times=1)
        with path.open("rb") as f, pytest.raises(DownstreamError) as refused:
            target.call("device_score", files={"file": ("x", f, "application/octet-stream")})
        assert refused.value.status == 400 and not isinstance(refused.value, TransientError)
    finally:
        target.close()


def test_with_retries_retries_transient_errors_up_to_the_limit(tmp_path: Path) -> None:
    config = support.make_config(support.door_overrides(tmp_path, **{"http.retry.max": 2}))
    delays: list[float] = []
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("derms", "device_score", 503, "busy",
                                 retry_after=7 if len(calls) == 2 else None)
        return "ok"

    assert with_retries(config, "post", flaky, sleep=delays.append) == "ok"
    assert len(calls) == 3 and delays[1] == 7 and 0 < delays[0] <= 0.3

    calls.clear()

    def down() -> str:
        calls.append(1)
        raise TransientError("derms", "device_score", 503, "down")

    with pytest.raises(TransientError):
        with_retries(config, "post", down, sleep=delays.append)
    assert len(calls) == 3  # the first try and http.retry.max retries

    def refused() -> str:
        calls.append(1)
        raise DownstreamError("derms", "device_score", 400, "bad file")

    calls.clear()
    with pytest.raises(DownstreamError):
        with_retries(config, "post", refused, sleep=delays.append)
    assert len(calls) == 1
