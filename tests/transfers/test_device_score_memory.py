"""A 200 MB device-score file goes from SFTP to DERMS without the hub's memory growing with it:
downloaded to a temporary file in pieces, posted as a multipart body streamed from disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from transfers.xfer_support import transfer_overrides
from transports.transport_servers import S3Server, Sshd

import support

SIZE = 200 * 1024 * 1024
PROBE = Path(__file__).with_name("rss_probe.py")


@pytest.mark.slow
def test_a_200_mb_file_moves_in_bounded_memory(
        tmp_path: Path, sandbox: Any, mail_sink: Any, sandbox_control: Any, xfer_sshd: Sshd,
        sftp_root: Path, xfer_s3: S3Server) -> None:
    score = sftp_root / "score"
    shutil.rmtree(score, ignore_errors=True)
    score.mkdir()
    overrides = transfer_overrides(tmp_path / "var", sandbox=sandbox, mail_sink=mail_sink,
                                   sshd=xfer_sshd, sftp_root=sftp_root, s3=xfer_s3,
                                   known_hosts=xfer_sshd.known_hosts,
                                   **{"http.timeout.seconds": 60})
    config_file = support.write_config_file(tmp_path / "hub.conf", overrides)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    done = subprocess.run([sys.executable, str(PROBE), str(config_file), str(score), str(SIZE)],
                          env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report["result"]["sent"] == [report["name"]]
    [big] = [d for d in sandbox_control.state()["derms"]["deviceScores"]
             if d["filename"] == report["name"]]
    assert big["size"] == SIZE and big["sha256"] == report["sha256"]
    assert (score / f"Sent-{report['name']}").stat().st_size == SIZE
    growth_mb = (report["after"] - report["before"]) / 1024
    print(f"peak RSS {report['before'] // 1024} MB -> {report['after'] // 1024} MB")
    # A fifth of the file at most; holding it would cost 200 MB, encoding it in memory 400 MB.
    assert growth_mb < 40, f"peak RSS grew by {growth_mb:.0f} MB moving a 200 MB file"
