"""Device Score end to end: run-now through the door (and Beat's way of sending the task), a
real worker, real SFTP / S3 servers, the sandbox's DERMS and the mail sink."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from transfers.xfer_support import SCORE_BUCKET, XferStack, bucket_names, unique

import support

RUN = "/api/v1/schedules/device-score/run"


def put_files(xstack: XferStack, source: str, files: dict[str, bytes]) -> dict[str, str]:
    """Write the files where the run looks; return name -> sha256."""
    for name, data in files.items():
        if source == "ftp":
            path = xstack.sftp_root / "score" / name
            path.write_bytes(data)
            then = time.time() - 120
            os.utime(path, (then, then))
        else:
            xstack.s3.client().put_object(Bucket=SCORE_BUCKET, Key=name, Body=data)
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def remote_names(xstack: XferStack, source: str) -> list[str]:
    if source == "ftp":
        return sorted(os.listdir(xstack.sftp_root / "score"))
    return bucket_names(xstack.s3, SCORE_BUCKET)


def posted(sandbox_control: Any) -> list[str]:
    return [d["sha256"] for d in sandbox_control.state()["derms"]["deviceScores"]]


def run_now(xstack: XferStack, body: Any = None) -> dict[str, Any]:
    kwargs = {"json": body} if body is not None else {}
    response = xstack.post(RUN, **kwargs)
    assert response.status_code == 202, response.get_data(as_text=True)
    accepted = response.get_json()
    assert accepted["status"] == "QUEUED"
    return xstack.wait_job(accepted["jobId"])


def test_sftp_run_sends_each_prefixed_file_once_and_renames_it(
        xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    tag = unique()
    files = {f"DeviceScore_{tag}_{i}.csv": f"nicId,score\nNIC{i},0.{i}\n".encode() * (i + 1)
             for i in range(3)}
    digests = put_files(xstack, "ftp", files)
    put_files(xstack, "ftp", {f"Other_{tag}.csv": b"not a score file",
                              f"Sent-DeviceScore_{tag}_old.csv": b"sent yesterday"})
    job = run_now(xstack)  # empty body: the configured source (ftp)
    assert job["status"] == "SUCCEEDED", job
    assert job["flow"] == "device_score"
    assert job["result"]["sent"] == sorted(files) and job["result"]["notSent"] == []
    assert job["result"]["source"] == "ftp"
    assert sorted(posted(sandbox_control)) == sorted(digests.values())
    assert remote_names(xstack, "ftp") == sorted(
        [f"Other_{tag}.csv", f"Sent-DeviceScore_{tag}_old.csv"] + [f"Sent-{n}" for n in files])
    # The renamed files are the same bytes.
    for name, data in files.items():
        assert (xstack.sftp_root / "score" / f"Sent-{name}").read_bytes() == data
    [mail] = mailbox.wait(1)
    assert mail["To"] == "ops@utility.test"
    text = mail.get_body(("plain",)).get_content()
    assert all(name in text for name in files) and job["id"] in text
    # A second run finds nothing new to send (and says so: the no-file flag is on).
    again = run_now(xstack, {"source": "ftp"})
    assert again["result"]["sent"] == [] and len(posted(sandbox_control)) == 3
    assert any("no file found" in m["Subject"] for m in mailbox.wait(2))


def test_object_storage_run(xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    tag = unique()
    files = {f"DeviceScore_{tag}_{i}.csv": os.urandom(1000 + i) for i in range(2)}
    digests = put_files(xstack, "os", files)
    put_files(xstack, "os", {f"Other_{tag}.csv": b"x"})
    job = run_now(xstack, {"source": "os"})
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["source"] == "os" and job["result"]["sent"] == sorted(files)
    assert sorted(posted(sandbox_control)) == sorted(digests.values())
    assert remote_names(xstack, "os") == sorted([f"Other_{tag}.csv"]
                                                + [f"Sent-{n}" for n in files])
    mailbox.wait(1)


def test_a_derms_refusal_renames_that_file_error_and_the_run_goes_on(
        xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    tag = unique()
    files = {f"DeviceScore_{tag}_{i}.csv": f"row {i}\n".encode() for i in range(3)}
    digests = put_files(xstack, "ftp", files)
    first, *rest = sorted(files)
    sandbox_control.fail("derms", "device_score", status=400, times=1,
                         body={"error": "BAD_REQUEST", "message": "unknown device N0"})
    job = run_now(xstack)
    assert job["status"] == "FAILED", (job, xstack.worker.output[-5000:])
    result = job["result"]
    assert result, (job, xstack.worker.output[-5000:])
    assert result["sent"] == rest
    assert [(f["file"], f["step"], f["status"]) for f in result["notSent"]] == [
        (first, "post", 400)]
    assert remote_names(xstack, "ftp") == sorted([f"Error-{first}"] + [f"Sent-{n}" for n in rest])
    assert job["errors"][0]["file"] == first and "unknown device N0" in job["errors"][0]["message"]
    # DERMS saw the refused one once (a 400 is not retried) and took the others.
    assert len(sandbox_control.calls(system="derms", op="device_score")) == 3
    assert sorted(posted(sandbox_control)) == sorted(digests[n] for n in rest)
    mails = mailbox.wait(2)
    by_to = {m["To"]: m.get_body(("plain",)).get_content() for m in mails}
    assert set(by_to) == {"errors@utility.test", "ops@utility.test"}
    assert first in by_to["errors@utility.test"]
    assert "unknown device N0" in by_to["errors@utility.test"]
    assert all(n in by_to["ops@utility.test"] for n in files), by_to  # sent and not sent


def test_derms_down_after_the_retries_counts_as_not_sent(
        xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    tag = unique()
    [name] = put_files(xstack, "ftp", {f"DeviceScore_{tag}.csv": b"x"})
    sandbox_control.fail("derms", "device_score", status=503, times=-1)
    job = run_now(xstack)
    assert job["status"] == "FAILED" and job["result"]["notSent"][0]["status"] == 503
    # The first try and http.retry.max (2) retries.
    assert len(sandbox_control.calls(system="derms", op="device_score")) == 3
    assert remote_names(xstack, "ftp") == [f"Error-{name}"]
    mailbox.wait(2)


def test_an_unknown_host_key_sends_nothing_and_sends_the_error_email(
        xstack: XferStack, sandbox_control: Any, mailbox: Any, tmp_path: Path) -> None:
    from transports.transport_servers import keygen

    # known_hosts now holds another key for the server's [host]:port.
    other = keygen(tmp_path / "impostor").with_suffix(".pub").read_text().split()
    xstack.known_hosts.write_text(f"[127.0.0.1]:{xstack.sshd.port} {other[0]} {other[1]}\n")
    name = f"DeviceScore_{unique()}.csv"
    put_files(xstack, "ftp", {name: b"secret scores"})
    job = run_now(xstack)
    assert job["status"] == "FAILED"
    assert "HostKeyError" in job["errors"][0]["message"]
    assert "CHANGED" in job["errors"][0]["message"]
    assert sandbox_control.calls(system="derms", op="device_score") == []
    assert remote_names(xstack, "ftp") == [name]  # untouched
    [mail] = mailbox.wait(1)
    assert mail["To"] == "errors@utility.test"
    text = mail.get_body(("plain",)).get_content()
    assert "device_score" in text and "host key" in text.lower()
    # The failed run is kept as failed work that ops can re-queue once the key is sorted out.
    [dead] = [d for d in xstack.ledger.list_dead_letters(flow="device_score")
              if d["job_id"] == job["id"]]
    assert dead["step"] == "device_score.run"
    assert dead["input"]["kwargs"] == {"source": "ftp", "job_id": job["id"]}


def test_no_file_sends_the_no_file_email(xstack: XferStack, sandbox_control: Any,
                                          mailbox: Any) -> None:
    put_files(xstack, "ftp", {f"Other_{unique()}.csv": b"x"})
    job = run_now(xstack)
    assert job["status"] == "SUCCEEDED" and job["result"]["sent"] == []
    [mail] = mailbox.wait(1)
    assert mail["To"] == "ops@utility.test"
    text = mail.get_body(("plain",)).get_content()
    assert "DeviceScore" in text and "score" in text
    assert sandbox_control.calls(system="derms", op="device_score") == []


def test_two_concurrent_runs_post_each_file_exactly_once(
        xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    tag = unique()
    files = {f"DeviceScore_{tag}_{i:02d}.csv": os.urandom(20_000 + i) for i in range(8)}
    digests = put_files(xstack, "ftp", files)
    # Each post takes a while, so the two runs overlap on the same listing.
    sandbox_control.switches("derms", "device_score", latency_ms=150)
    ids = []
    for _ in range(2):
        response = xstack.post(RUN, json={"source": "ftp"})
        assert response.status_code == 202
        ids.append(response.get_json()["jobId"])
    jobs = [xstack.wait_job(job_id, timeout=60) for job_id in ids]
    assert [j["status"] for j in jobs] == ["SUCCEEDED", "SUCCEEDED"]
    got = posted(sandbox_control)
    assert sorted(got) == sorted(digests.values())  # every file, each exactly once
    sent = [n for j in jobs for n in j["result"]["sent"]]
    assert sorted(sent) == sorted(files)
    assert remote_names(xstack, "ftp") == sorted(f"Sent-{n}" for n in files)
    # They did run at the same time: each started before the other finished.
    spans = []
    for job in jobs:
        events = xstack.ledger.job_events(job["id"])
        times = [e["at"] for e in events if e["kind"] == "step"]
        spans.append((min(times), max(times)))
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]
    # One process-complete email per run that handled a file.
    mailbox.wait(sum(1 for j in jobs if j["result"]["sent"]))
    skipped = [s for j in jobs for s in j["result"]["skipped"]]
    assert skipped and all(s["reason"] in ("claimed by another run, or sent already",
                                           "gone since the listing") for s in skipped)


def test_the_task_as_beat_sends_it_records_a_job_and_runs(
        xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    from tasks.app import celery_app

    name = f"DeviceScore_{unique()}.csv"
    digests = put_files(xstack, "ftp", {name: b"scheduled"})
    # What Beat sends: the registered name and the schedule's kwargs, no job.
    celery_app.send_task("device_score.run", kwargs={"source": "ftp"})
    job = support.wait_for(lambda: [j for j in xstack.ledger.list_jobs(flow="device_score")
                                    if j["client"] == "beat"
                                    and j["status"] in ("SUCCEEDED", "FAILED")
                                    and (j["result"] or {}).get("sent") == [name]],
                           30, what="the scheduled run")[0]
    assert job["status"] == "SUCCEEDED"
    assert job["input"] == {"source": "ftp", "trigger": "schedule"}
    assert posted(sandbox_control) == [digests[name]]
    assert job["id"] in mailbox.wait(1)[0].get_body(("plain",)).get_content()


def test_run_now_is_for_ops_only_and_checks_its_body(xstack: XferStack) -> None:
    assert xstack.post(RUN, as_client="derms", json={}).status_code == 403
    bad = xstack.post(RUN, json={"source": "http"})
    assert bad.status_code == 400 and "source" in bad.get_json()["errors"]
    assert xstack.post(RUN, data="{", content_type="application/json").status_code == 400


def test_a_sent_file_that_cannot_be_renamed_is_never_sent_again(
        xstack: XferStack, sandbox_control: Any, mailbox: Any) -> None:
    name = f"DeviceScore_{unique()}.csv"
    digests = put_files(xstack, "ftp", {name: b"sent once"})
    # Something already sits at the Sent- name and cannot be replaced: a non-empty directory.
    blocker = xstack.sftp_root / "score" / f"Sent-{name}"
    blocker.mkdir()
    (blocker / "keep").write_bytes(b"x")
    job = run_now(xstack)
    assert job["status"] == "SUCCEEDED" and job["result"]["sent"] == [name]
    assert [w["file"] for w in job["result"]["renameErrors"]] == [name]
    assert name in remote_names(xstack, "ftp")
    mails = mailbox.wait(2)
    error = [m for m in mails if m["To"] == "errors@utility.test"][0]
    assert "could not be renamed" in error.get_body(("plain",)).get_content()
    again = run_now(xstack)
    assert again["result"]["sent"] == [] and again["result"]["skipped"][0]["file"] == name
    assert posted(sandbox_control) == [digests[name]]
    # Nothing sent and nothing failed in the second run: no process email for it.
    assert len(mailbox.messages()) == 2, [m["Subject"] for m in mailbox.messages()]
