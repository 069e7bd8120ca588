"""Run Device Score transfers in a process of their own and report its peak memory.

``python rss_probe.py CONFIG_FILE SOURCE_DIR SIZE`` runs a warm-up transfer of a small file
(so every code path is loaded), notes the peak RSS (VmHWM), then transfers one SIZE-byte file
and prints ``{"before": kB, "after": kB, "result": ..., "sha256": ...}`` as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from hub import runtime
from hub.config import load_config
from tasks.device_score import run_transfer


class Quiet:
    """Emails are not what this probe measures."""

    def error(self, step: str, report: dict[str, Any]) -> None:
        raise AssertionError(f"{step}: {report}")

    def process(self, kind: str, context: dict[str, Any]) -> None:
        pass


def peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def old_file(path: Path) -> None:
    then = time.time() - 600
    os.utime(path, (then, then))


def run(name: str) -> dict[str, Any]:
    rt = runtime.get()
    job_id = f"rss-{uuid.uuid4().hex[:8]}"
    rt.ledger.create_job(job_id, "device_score")
    return run_transfer(rt.config, rt.ledger, source="ftp", job_id=job_id, derms=rt.derms,
                        notifier=Quiet())


def main(config_file: str, source_dir: str, size: int) -> None:
    runtime.init(load_config(config_file, env={}))
    directory = Path(source_dir)
    tag = uuid.uuid4().hex[:8]
    warm = directory / f"DeviceScore_{tag}_warm.csv"
    warm.write_bytes(os.urandom(3 * 1024 * 1024))
    old_file(warm)
    assert run(warm.name)["sent"] == [warm.name]
    before = peak_kb()

    big = directory / f"DeviceScore_{tag}_big.csv"
    head, tail = os.urandom(1024 * 1024), os.urandom(1024 * 1024)
    with big.open("wb") as f:  # sparse in the middle: quick to make, real bytes to move
        f.write(head)
        f.seek(size - len(tail))
        f.write(tail)
    old_file(big)
    digest = hashlib.sha256()
    with big.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            digest.update(chunk)
    result = run(big.name)
    print(json.dumps({"before": before, "after": peak_kb(), "result": result,
                      "sha256": digest.hexdigest(), "name": big.name}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
