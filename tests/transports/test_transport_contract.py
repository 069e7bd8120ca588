"""The one contract every transport keeps, run against each kind on a real server
(``transport_case`` is parametrized over local, SFTP, FTP, FTPS and S3)."""

from __future__ import annotations

import hashlib
import io
import random
import time

import pytest
from transports.transport_servers import Case

from hub.transports import (
    CHUNK_SIZE,
    Entry,
    TransportError,
    TransportNotFound,
    UnsafeNameError,
)

MiB = 1024 * 1024


def blob(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


class Trickle(io.RawIOBase):
    """A non-seekable source that hands out data in odd-sized pieces, like a socket, and can be
    told to break after some bytes."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        self.data, self.pos, self.fail_after = data, 0, fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise SourceBroke("the source went away")
        n = min(len(buffer), 300_000, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


class SourceBroke(Exception):
    """Raised by the caller's own stream: must come out of put() unchanged."""


def put_bytes(case: Case, name: str, data: bytes) -> int:
    return case.transport.put(name, io.BytesIO(data))


def read_all(case: Case, name: str) -> bytes:
    out = io.BytesIO()
    case.transport.get(name, out)
    return out.getvalue()


class TestTransportContract:
    def test_list_by_prefix_with_sizes_and_times(self, transport_case: Case) -> None:
        t = transport_case.transport
        before = time.time()
        put_bytes(transport_case, "DeviceScore-1.csv", b"a" * 10)
        put_bytes(transport_case, "DeviceScore-2.csv", b"b" * 2000)
        put_bytes(transport_case, "other.csv", b"")
        # What a listing must skip: sub-directories and hidden files (temporary uploads).
        transport_case.make_subdir("DeviceScore-dir")
        transport_case.write_raw(".DeviceScore-3.csv.part-abc", b"partial")

        scores = t.list("DeviceScore-")
        assert [e.name for e in scores] == ["DeviceScore-1.csv", "DeviceScore-2.csv"]
        assert [e.size for e in scores] == [10, 2000]
        for e in scores:
            assert isinstance(e, Entry)
            # FTP's MDTM/MLSD and S3 have whole-second times; allow clock granularity.
            assert before - 5 <= e.mtime <= time.time() + 5, e
        assert [e.name for e in t.list()] == ["DeviceScore-1.csv", "DeviceScore-2.csv",
                                              "other.csv"]
        assert t.list("nothing-like-this") == []
        assert t.list("other")[0].size == 0

    def test_put_is_atomic_and_leaves_no_temporary_file(self, transport_case: Case) -> None:
        data = blob(3 * MiB)
        assert transport_case.transport.put("score.csv", Trickle(data)) == len(data)
        assert transport_case.raw_names() == ["score.csv"]
        assert read_all(transport_case, "score.csv") == data

    def test_put_replaces_an_existing_file(self, transport_case: Case) -> None:
        put_bytes(transport_case, "f.csv", b"old contents")
        put_bytes(transport_case, "f.csv", b"new")
        assert read_all(transport_case, "f.csv") == b"new"
        assert transport_case.raw_names() == ["f.csv"]

    def test_failed_put_leaves_nothing_and_keeps_the_old_file(self,
                                                               transport_case: Case) -> None:
        put_bytes(transport_case, "keep.csv", b"version 1")
        with pytest.raises(SourceBroke):
            transport_case.transport.put("keep.csv", Trickle(blob(4 * MiB), fail_after=MiB))
        with pytest.raises(SourceBroke):
            transport_case.transport.put("new.csv", Trickle(blob(4 * MiB), fail_after=MiB))
        assert transport_case.raw_names() == ["keep.csv"]
        assert read_all(transport_case, "keep.csv") == b"version 1"
        # The transport is still usable after the failure.
        assert put_bytes(transport_case, "after.csv", b"ok") == 2
        assert [e.name for e in transport_case.transport.list()] == ["after.csv", "keep.csv"]

    def test_streaming_round_trip_of_a_multi_megabyte_file(self, transport_case: Case) -> None:
        # 9 MiB: above S3's 8 MiB multipart threshold, and many chunks everywhere else.
        data = blob(9 * MiB + 12345, seed=3)
        assert transport_case.transport.put("big.bin", Trickle(data)) == len(data)

        out = io.BytesIO()
        assert transport_case.transport.get("big.bin", out) == len(data)
        assert out.getvalue() == data

        digest, total, reads = hashlib.sha256(), 0, 0
        with transport_case.transport.open("big.bin") as f:
            while chunk := f.read(CHUNK_SIZE // 2):
                assert len(chunk) <= CHUNK_SIZE // 2  # streamed, not slurped
                digest.update(chunk)
                total += len(chunk)
                reads += 1
        assert total == len(data) and reads >= 18
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()

    def test_open_can_stop_early_and_the_transport_goes_on(self, transport_case: Case) -> None:
        data = blob(5 * MiB, seed=5)
        put_bytes(transport_case, "big.bin", data)
        with transport_case.transport.open("big.bin") as f:
            assert f.read(1000) == data[:1000]
        put_bytes(transport_case, "small.csv", b"abc")
        assert read_all(transport_case, "small.csv") == b"abc"
        assert [e.name for e in transport_case.transport.list()] == ["big.bin", "small.csv"]

    def test_rename(self, transport_case: Case) -> None:
        t = transport_case.transport
        put_bytes(transport_case, "a.csv", b"payload")
        t.rename("a.csv", "Sent-a.csv")
        assert [e.name for e in t.list()] == ["Sent-a.csv"]
        assert read_all(transport_case, "Sent-a.csv") == b"payload"

        put_bytes(transport_case, "b.csv", b"second")
        t.rename("b.csv", "Sent-a.csv")  # replaces
        assert transport_case.raw_names() == ["Sent-a.csv"]
        assert read_all(transport_case, "Sent-a.csv") == b"second"

    def test_rename_onto_itself_keeps_the_file(self, transport_case: Case) -> None:
        put_bytes(transport_case, "same.csv", b"kept")
        transport_case.transport.rename("same.csv", "same.csv")
        assert transport_case.raw_names() == ["same.csv"]
        assert read_all(transport_case, "same.csv") == b"kept"

    def test_rename_of_a_missing_file_is_not_found(self, transport_case: Case) -> None:
        # What makes rename usable as a claim: the loser of a race gets TransportNotFound.
        put_bytes(transport_case, "x.csv", b"1")
        transport_case.transport.rename("x.csv", "claimed-x.csv")
        with pytest.raises(TransportNotFound):
            transport_case.transport.rename("x.csv", "claimed-again-x.csv")
        assert transport_case.raw_names() == ["claimed-x.csv"]

    def test_delete(self, transport_case: Case) -> None:
        put_bytes(transport_case, "gone.csv", b"1")
        put_bytes(transport_case, "stays.csv", b"2")
        transport_case.transport.delete("gone.csv")
        assert transport_case.raw_names() == ["stays.csv"]
        with pytest.raises(TransportNotFound):
            transport_case.transport.delete("gone.csv")

    def test_missing_file_is_not_found(self, transport_case: Case) -> None:
        t = transport_case.transport
        with pytest.raises(TransportNotFound) as info:
            with t.open("missing.csv"):
                pass  # pragma: no cover - open must fail
        assert isinstance(info.value, FileNotFoundError)
        assert not info.value.transient
        assert "missing.csv" in str(info.value)
        out = io.BytesIO()
        with pytest.raises(TransportNotFound):
            t.get("missing.csv", out)
        assert out.getvalue() == b""
        # The transport still works after the error.
        put_bytes(transport_case, "there.csv", b"1")
        assert read_all(transport_case, "there.csv") == b"1"

    @pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "/etc/passwd", "a\\b", "", ".",
                                     "..", ".hidden", "a\x00b", "a\r\nDELE x", " spaced"])
    def test_unsafe_names_are_refused_everywhere(self, transport_case: Case, bad: str) -> None:
        t = transport_case.transport
        put_bytes(transport_case, "ok.csv", b"1")
        calls = [
            lambda: t.put(bad, io.BytesIO(b"evil")),
            lambda: t.get(bad, io.BytesIO()),
            lambda: t.open(bad).__enter__(),
            lambda: t.rename("ok.csv", bad),
            lambda: t.rename(bad, "ok2.csv"),
            lambda: t.delete(bad),
        ]
        for call in calls:
            with pytest.raises(UnsafeNameError):
                call()
        if bad:  # the empty prefix means "everything"
            with pytest.raises(UnsafeNameError):
                t.list(bad)
        assert transport_case.raw_names() == ["ok.csv"]

    def test_errors_and_repr_never_show_secrets(self, transport_case: Case) -> None:
        t = transport_case.transport
        with pytest.raises(TransportError) as info:
            t.delete("missing.csv")
        if transport_case.secret:
            assert transport_case.secret not in repr(t)
            assert transport_case.secret not in str(info.value)
            assert transport_case.secret not in repr(vars(t))
        assert transport_case.kind in repr(t) or "file://" in repr(t)

    def test_transient_errors_are_declared(self, transport_case: Case) -> None:
        from hub.transports import TransientTransportError

        declared = type(transport_case.transport).transient_errors
        assert TransientTransportError in declared
        assert TransportNotFound not in declared
