"""Device Score runs in this process (the task's plain function) against real servers: FTP,
a connection dropped mid-download, files still being written, claims held by another run."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from transfers.xfer_support import DirectNotifier, join_prefetch_threads, unique
from transports.transport_servers import FTP_PASSWORD, FTP_USER, FtpServer, Sshd

from hub import runtime
from hub.transports import open_transport
from tasks.device_score import CLAIM_LEASE, run_transfer


def start_job(flow: str = "device_score") -> str:
    job_id = unique("ds-")
    runtime.get().ledger.create_job(job_id, flow, client="test")
    return job_id


def write(directory: Path, name: str, data: bytes, age: float = 120) -> str:
    path = directory / name
    path.write_bytes(data)
    then = path.stat().st_mtime - age
    os.utime(path, (then, then))
    return hashlib.sha256(data).hexdigest()


def posted(sandbox_control: Any) -> list[str]:
    return [d["sha256"] for d in sandbox_control.state()["derms"]["deviceScores"]]


def test_ftp_source_sends_each_prefixed_file_and_renames_it(
        local_config: Any, xfer_ftp: FtpServer, xfer_ftp_root: Path, sandbox_control: Any,
        mailbox: Any) -> None:
    config = local_config(**{"dacs.ftp.url": f"ftp://{FTP_USER}@127.0.0.1:{xfer_ftp.port}",
                             "dacs.ftp.password": FTP_PASSWORD,
                             "dacs.dvcScore.ftp.input.directory": "score"})
    score = xfer_ftp_root / "score"
    tag = unique()
    digests = {f"DeviceScore_{tag}_{i}.csv": write(score, f"DeviceScore_{tag}_{i}.csv",
                                                   f"nic,score\nN{i},0.{i}\n".encode())
               for i in range(3)}
    write(score, f"Other_{tag}.csv", b"x")
    job_id = start_job()
    notifier = DirectNotifier(config, job_id)
    result = run_transfer(config, runtime.get().ledger, source="ftp", job_id=job_id,
                          derms=runtime.get().derms, notifier=notifier)
    assert result["sent"] == sorted(digests) and result["notSent"] == []
    assert sorted(posted(sandbox_control)) == sorted(digests.values())
    names = set(os.listdir(score))
    assert {f"Sent-{n}" for n in digests} <= names and f"Other_{tag}.csv" in names
    assert not any(n.startswith("DeviceScore") for n in names)
    assert notifier.kinds == ["process_complete"]
    [mail] = mailbox.wait(1)
    assert mail["To"] == "ops@utility.test"
    text = mail.get_body(("plain",)).get_content()
    assert all(n in text for n in digests)


class DropOnFirstWrite:
    """The real SFTP transport; the first download kills the sshd's sessions (SIGKILL, as a
    crashing server or a dead link would) once its first piece has arrived."""

    def __init__(self, inner: Any, sshd: Sshd, directory: Path):
        self.inner, self.sshd, self.directory = inner, sshd, directory
        self.names_at_drop: list[str] | None = None
        self.downloads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return repr(self.inner)

    def get(self, name: str, fileobj: BinaryIO) -> int:
        self.downloads += 1
        if self.names_at_drop is not None:
            return self.inner.get(name, fileobj)
        outer = self

        class Dropper:
            def write(self, data: bytes) -> int:
                n = fileobj.write(data)
                if outer.names_at_drop is None:
                    outer.names_at_drop = sorted(os.listdir(outer.directory))
                    assert outer.sshd.kill_sessions() > 0
                return n

        return self.inner.get(name, Dropper())  # type: ignore[arg-type]


# paramiko's prefetch thread dies with the connection cut on purpose; its exception in that
# thread is the expected side effect, not a failure of the code under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_connection_dropped_mid_download_is_retried_and_the_file_renamed_only_once_sent(
        local_config: Any, sftp_root: Path, sandbox_control: Any, tmp_path: Path) -> None:
    from transports.transport_servers import start_sshd

    sshd = start_sshd(tmp_path / "sshd")  # a private server: its sessions get killed
    try:
        config = local_config(**{"dacs.ftp.url": sshd.url(sftp_root),
                                 "dacs.ftp.private.key.file": str(sshd.client_key),
                                 "dacs.ftp.known.hosts.file": str(sshd.known_hosts)})
        score = sftp_root / "score"
        name = f"DeviceScore_{unique()}.csv"
        digest = write(score, name, os.urandom(24 * 1024 * 1024))
        job_id = start_job()
        transport = DropOnFirstWrite(open_transport(
            sshd.url(score), private_key_file=str(sshd.client_key),
            known_hosts_file=str(sshd.known_hosts), timeout=5), sshd, score)
        result = run_transfer(config, runtime.get().ledger, source="ftp", job_id=job_id,
                              derms=runtime.get().derms, transport=transport,
                              notifier=DirectNotifier(config, job_id))
    finally:
        sshd.stop()
        join_prefetch_threads()
    assert transport.names_at_drop == [name]  # not renamed while it was not sent
    assert transport.downloads == 2
    assert result["sent"] == [name] and result["notSent"] == []
    assert posted(sandbox_control) == [digest]  # whole, and once
    assert sorted(os.listdir(score)) == [f"Sent-{name}"]
    retries = [e for e in runtime.get().ledger.job_events(job_id) if e["status"] == "RETRY"]
    assert [e["name"] for e in retries] == [f"download {name}"]


def test_a_file_younger_than_the_minimum_age_waits_for_a_later_run(
        local_config: Any, sftp_root: Path, sandbox_control: Any) -> None:
    config = local_config(**{"device.score.min.age.seconds": 60})
    score = sftp_root / "score"
    old, new = f"DeviceScore_{unique()}_old.csv", f"DeviceScore_{unique()}_new.csv"
    digest = write(score, old, b"old", age=600)
    write(score, new, b"still being written", age=0)
    job_id = start_job()
    notifier = DirectNotifier(config, job_id)
    result = run_transfer(config, runtime.get().ledger, source="ftp", job_id=job_id,
                          derms=runtime.get().derms, notifier=notifier)
    assert result["sent"] == [old] and result["waiting"] == [new]
    assert posted(sandbox_control) == [digest]
    assert sorted(os.listdir(score)) == sorted([f"Sent-{old}", new])


def test_a_file_claimed_by_another_run_is_left_to_it(
        local_config: Any, sftp_root: Path, sandbox_control: Any, mailbox: Any) -> None:
    from mappings.device_score import claim_key

    config = local_config()
    score = sftp_root / "score"
    mine, theirs = f"DeviceScore_{unique()}_a.csv", f"DeviceScore_{unique()}_b.csv"
    digest = write(score, mine, b"a")
    write(score, theirs, b"b")
    ledger = runtime.get().ledger
    with open_transport(config["dacs.ftp.url"], directory="score",
                        private_key_file=config["dacs.ftp.private.key.file"],
                        known_hosts_file=config["dacs.ftp.known.hosts.file"]) as t:
        [entry] = t.list(theirs)
        source = f"device_score:ftp:{t!r}"
    # Another run (alive: its lease is fresh) holds the second file.
    assert ledger.claim_file(source, claim_key(entry), "other-run", CLAIM_LEASE)
    job_id = start_job()
    result = run_transfer(config, ledger, source="ftp", job_id=job_id,
                          derms=runtime.get().derms, notifier=DirectNotifier(config, job_id))
    assert result["sent"] == [mine]
    assert result["skipped"] == [{"file": theirs,
                                  "reason": "claimed by another run, or sent already"}]
    assert posted(sandbox_control) == [digest]
    assert theirs in os.listdir(score)
    # When that run died, its lease runs out and the next run takes the file over.
    assert not ledger.claim_file(source, claim_key(entry), "third", dt.timedelta(seconds=1))


# paramiko's prefetch thread dies with the connection cut on purpose; its exception in that
# thread is the expected side effect, not a failure of the code under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_file_server_that_stays_down_ends_the_run_and_leaves_the_files_for_the_next(
        local_config: Any, sftp_root: Path, sandbox_control: Any, tmp_path: Path,
        mailbox: Any) -> None:
    from transports.transport_servers import start_sshd

    sshd = start_sshd(tmp_path / "sshd")
    config = local_config(**{"dacs.ftp.url": sshd.url(sftp_root),
                             "dacs.ftp.private.key.file": str(sshd.client_key),
                             "dacs.ftp.known.hosts.file": str(sshd.known_hosts)})
    score = sftp_root / "score"
    tag = unique()
    names = [f"DeviceScore_{tag}_{i}.csv" for i in range(2)]
    for name in names:
        write(score, name, os.urandom(4 * 1024 * 1024))

    class ServerDies(DropOnFirstWrite):
        def get(self, name: str, fileobj: BinaryIO) -> int:
            if self.names_at_drop is None:
                self.names_at_drop = []
                self.sshd.stop()  # the listener too: reconnecting is refused
            return self.inner.get(name, fileobj)

    transport = ServerDies(open_transport(
        sshd.url(score), private_key_file=str(sshd.client_key),
        known_hosts_file=str(sshd.known_hosts), timeout=5), sshd, score)
    job_id = start_job()
    notifier = DirectNotifier(config, job_id)
    try:
        result = run_transfer(config, runtime.get().ledger, source="ftp", job_id=job_id,
                              derms=runtime.get().derms, transport=transport, notifier=notifier)
    finally:
        sshd.stop()
        join_prefetch_threads()
    assert result["sent"] == []
    assert [(f["file"], f["step"]) for f in result["notSent"]] == [(names[0], "download")]
    assert result["skipped"] == [{"file": names[1], "reason": "file server unreachable"}]
    assert sorted(os.listdir(score)) == names  # untouched
    assert sandbox_control.calls(system="derms", op="device_score") == []
    assert notifier.kinds == ["error", "process_complete"]
    mailbox.wait(2)
    # Unclaimed again: the next run takes both (here: another owner may claim them now).
    from hub.transports import Entry
    from mappings.device_score import claim_key

    source = f"device_score:ftp:{transport!r}"
    for name in names:
        stat = (score / name).stat()
        key = claim_key(Entry(name, stat.st_size, stat.st_mtime))
        assert runtime.get().ledger.claim_file(source, key, "next-run", CLAIM_LEASE)
