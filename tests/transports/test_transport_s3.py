"""S3 specifics, against moto in server mode: endpoints, multipart, missing buckets, error
classes."""

from __future__ import annotations

import io
import uuid
from typing import Any

import botocore.exceptions
import pytest
from transports.transport_servers import BUCKET, S3_KEY_ID, S3_SECRET, S3Server, free_port

from hub.transports import (
    TransientTransportError,
    TransportAuthError,
    TransportError,
    TransportNotFound,
    oci_s3_endpoint,
    open_transport,
)
from hub.transports.s3 import S3Transport, translate_s3_error

MiB = 1024 * 1024


def s3(server: S3Server, url: str, **options: Any) -> Any:
    return open_transport(url, endpoint_url=server.endpoint, region="us-east-1",
                          access_key_id=S3_KEY_ID, secret_access_key=S3_SECRET,
                          max_attempts=1, **options)


def test_oci_endpoint() -> None:
    assert oci_s3_endpoint("axaxnpcrorw5", "us-ashburn-1") == \
        "https://axaxnpcrorw5.compat.objectstorage.us-ashburn-1.oraclecloud.com"
    t = S3Transport("b", namespace="axaxnpcrorw5", region="us-ashburn-1")
    assert t.endpoint_url == oci_s3_endpoint("axaxnpcrorw5", "us-ashburn-1")
    assert t._s3.meta.endpoint_url == t.endpoint_url
    with pytest.raises(ValueError, match="dacs.os.region"):
        S3Transport("b", namespace="axaxnpcrorw5")


def test_large_uploads_are_multipart_and_small_ones_are_not(s3_server: S3Server) -> None:
    prefix = f"mp-{uuid.uuid4().hex[:8]}"
    client = s3_server.client()
    with s3(s3_server, f"s3://{BUCKET}/{prefix}") as t:
        t.put("big.bin", io.BytesIO(b"z" * (9 * MiB)))
        t.put("small.bin", io.BytesIO(b"z" * 1000))
    # A multipart object's ETag is "<md5 of part md5s>-<part count>".
    assert client.head_object(Bucket=BUCKET, Key=f"{prefix}/big.bin")["ETag"].endswith('-2"')
    assert "-" not in client.head_object(Bucket=BUCKET, Key=f"{prefix}/small.bin")["ETag"]
    # Nothing but the two objects: no temporary keys, no leftover uploads.
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert sorted(keys) == [f"{prefix}/big.bin", f"{prefix}/small.bin"]
    assert not client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads")


def test_a_failed_multipart_upload_is_aborted(s3_server: S3Server) -> None:
    class Broken(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            if self.sent > 12 * MiB:
                raise OSError("disk gone")
            b[:len(b)] = b"y" * len(b)
            self.sent += len(b)
            return len(b)

    prefix = f"fail-{uuid.uuid4().hex[:8]}"
    with s3(s3_server, f"s3://{BUCKET}/{prefix}") as t:
        with pytest.raises(OSError, match="disk gone"):
            t.put("big.bin", Broken())
        assert t.list() == []
    assert not s3_server.client().list_multipart_uploads(
        Bucket=BUCKET, Prefix=prefix).get("Uploads")


def test_the_directory_option_joins_the_prefix(s3_server: S3Server) -> None:
    with s3(s3_server, f"s3://{BUCKET}/base", directory="inbox") as t:
        t.put("a.csv", io.BytesIO(b"1"))
    s3_server.client().head_object(Bucket=BUCKET, Key="base/inbox/a.csv")


def test_a_missing_bucket_is_not_found(s3_server: S3Server) -> None:
    with s3(s3_server, "s3://no-such-bucket-here/x") as t:
        with pytest.raises(TransportNotFound):
            t.list()


def test_an_unreachable_endpoint_is_transient() -> None:
    t = S3Transport(BUCKET, endpoint_url=f"http://127.0.0.1:{free_port()}",
                    access_key_id="k", secret_access_key="s", max_attempts=1, timeout=3)
    with t, pytest.raises(TransientTransportError):
        t.list()


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject")


@pytest.mark.parametrize(("code", "status", "expected"), [
    ("NoSuchKey", 404, TransportNotFound),
    ("404", 404, TransportNotFound),
    ("NoSuchBucket", 404, TransportNotFound),
    ("AccessDenied", 403, TransportAuthError),
    ("InvalidAccessKeyId", 403, TransportAuthError),
    ("SignatureDoesNotMatch", 403, TransportAuthError),
    ("SlowDown", 503, TransientTransportError),
    ("InternalError", 500, TransientTransportError),
    ("ServiceUnavailable", 503, TransientTransportError),
    ("SomethingNew", 502, TransientTransportError),
    ("RequestTimeout", 400, TransientTransportError),
    ("InvalidArgument", 400, TransportError),
])
def test_client_errors_map_to_classes(code: str, status: int, expected: type) -> None:
    err = translate_s3_error(client_error(code, status), "get 'x'")
    assert type(err) is expected
    assert code in str(err)


@pytest.mark.parametrize("exc", [
    botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"),
    botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"),
    botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"),
    botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"),
])
def test_connection_errors_are_transient(exc: Exception) -> None:
    assert type(translate_s3_error(exc, "op")) is TransientTransportError
    assert isinstance(exc, S3Transport.transient_errors)


def test_missing_credentials_are_an_auth_error() -> None:
    err = translate_s3_error(botocore.exceptions.NoCredentialsError(), "op")
    assert type(err) is TransportAuthError
