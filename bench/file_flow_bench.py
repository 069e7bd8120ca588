"""Side-by-side: the hub's segmented reservation flow vs a naive baseline, on the same file.

    .venv/bin/python bench/file_flow_bench.py --rows 200000 [--pad 250] [--concurrency 4]
        [--broker redis://127.0.0.1:6379/13] [--latency-ms 0]

Both send the same rows to the same simulated DACS (the sandbox, over HTTP on 127.0.0.1):

* **hub**: the file is POSTed to the front door (in this process), staged, scanned, and posted by
  a real ``hub worker`` (its own process, ``--concurrency`` pool processes) as a chord of
  1000-row segments; the time is from the POST to the job's end (DERMS got its ack). Memory is
  the peak RSS (VmHWM) of the worker's pool processes.
* **naive**: what a first version would do: read the whole CSV into a list, then post it in
  1000-row calls one after the other, in one process (a child, so its peak RSS is its own).

The numbers are printed as a table; nothing is asserted (the tests do that).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

COLUMNS = ("recordId", "note", "nicId", "headEndSystem", "servicePointId", "deviceType")


def peak_kb(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def write_file(path: Path, rows: int, pad: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(1, rows + 1):
            writer.writerow([i, "x" * pad, f"NIC{i:07d}", "ECOBEE", f"SP{i}", "THERMOSTAT"])


# -- the naive baseline (run in a child process) ---------------------------------------------
def naive(path: str, url: str) -> None:
    import requests

    started = time.monotonic()
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))  # the whole file in memory
    session = requests.Session()
    for i in range(0, len(rows), 1000):
        devices = [{"recordId": r["recordId"], "nicId": r["nicId"],
                    "headEndSystem": r["headEndSystem"]} for r in rows[i:i + 1000]]
        response = session.post(url, json={"eventExternalIdentifier": "EV-NAIVE",
                                           "externalIdentifier": "EV-NAIVE-S1",
                                           "deviceList": devices}, timeout=60)
        response.raise_for_status()
    print(json.dumps({"seconds": time.monotonic() - started, "peak_kb": peak_kb(),
                      "rows": len(rows)}))


# -- the hub ---------------------------------------------------------------------------------
def worker_children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def run_hub(path: Path, var: Path, sandbox_url: str, broker: str | None,
            concurrency: int) -> dict[str, Any]:
    import base64

    from hub import runtime
    from hub.app import create_app
    from hub.config import load_config

    overrides: dict[str, Any] = {
        "var.dir": str(var), "dacs.base.url": f"{sandbox_url}/dacs",
        "derms.base.url": f"{sandbox_url}/derms", "clients.derms.username": "derms",
        "clients.derms.password": "bench-pass", "clients.ops.username": "ops",
        "clients.ops.password": "bench-pass", "notification.email.process.complete.flag": False,
        "notification.email.error.flag": False, "http.retry.max": 2,
    }
    if broker:
        overrides.update({"broker.url": broker, "result.backend": broker,
                          "broker.key.prefix": f"bench-{uuid.uuid4().hex[:6]}:"})
    var.mkdir(parents=True, exist_ok=True)
    config_file = var / "hub.conf"
    config_file.write_text("".join(f"{k} = {v}\n" for k, v in overrides.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONFIG"] = str(config_file)
    worker = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "worker", f"--concurrency={concurrency}",
         "--queues=hub,hub.files"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, text=True)
    try:
        assert worker.stdout is not None
        for line in worker.stdout:  # wait for " ready."
            if " ready." in line:
                break
        import threading

        threading.Thread(target=lambda: [None for _ in worker.stdout], daemon=True).start()
        config = load_config(env={}, overrides=overrides)
        runtime.init(config)
        client = create_app(config).test_client()
        auth = {"Authorization": "Basic " + base64.b64encode(b"derms:bench-pass").decode()}
        message = {"messageId": f"M-{uuid.uuid4().hex[:8]}", "eventId": "EV-HUB",
                   "stageId": "EV-HUB-S1"}
        started = time.monotonic()
        with path.open("rb") as handle:
            answer = client.post("/api/v1/derms/event-device-reservations", headers=auth,
                                 content_type="multipart/form-data",
                                 data={"message": json.dumps(message),
                                       "file": (handle, path.name)})
        accepted_after = time.monotonic() - started
        job_id = answer.get_json()["jobId"]
        ledger = runtime.get().ledger
        while (job := ledger.get_job(job_id))["status"] not in ("SUCCEEDED", "FAILED"):
            time.sleep(0.05)
        seconds = time.monotonic() - started
        peaks = [peak_kb(pid) for pid in worker_children(worker.pid)]
        return {"seconds": seconds, "accepted": accepted_after, "status": job["status"],
                "peak_kb": max(peaks), "rows": (job["result"] or {}).get("rows")}
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
        if broker:  # leave nothing of ours on a shared Redis
            import redis

            server = redis.Redis.from_url(broker)
            for key in server.scan_iter(f"{overrides['broker.key.prefix']}*"):
                server.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--pad", type=int, default=250, help="bytes of an ignored extra column")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--broker", default=None, help="redis://... (default: embedded)")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="simulated DACS latency per call")
    parser.add_argument("--naive", nargs=2, metavar=("FILE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        naive(*args.naive)
        return

    from hub.sandbox import SandboxControl, serve_sandbox

    sandbox = serve_sandbox()
    control = SandboxControl(sandbox.url)
    if args.latency_ms:
        control.switches("dacs", "reserve_device", latency_ms=args.latency_ms)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        path = Path(tmp) / "reservations.csv"
        write_file(path, args.rows, args.pad)
        size_mb = path.stat().st_size / 1e6
        child = subprocess.run(
            [sys.executable, __file__, "--naive", str(path),
             f"{sandbox.url}/dacs/rest/apis/cross/service/programEventParticipation/reserveDevice"],
            capture_output=True, text=True, check=True)
        base = json.loads(child.stdout)
        hub = run_hub(path, Path(tmp) / "var", sandbox.url, args.broker, args.concurrency)
    sandbox.shutdown()
    print(f"\n{args.rows} rows, {size_mb:.1f} MB, DACS latency {args.latency_ms:g} ms, "
          f"broker {args.broker or 'embedded'}, {args.concurrency} pool processes\n")
    print(f"| {'':<28} | {'naive':>10} | {'hub':>10} |")
    print(f"|{'-' * 30}|{'-' * 12}|{'-' * 12}|")
    print(f"| {'time to DACS done (s)':<28} | {base['seconds']:>10.1f} | {hub['seconds']:>10.1f} |")
    print(f"| {'time to answer (s)':<28} | {'(sync)':>10} | {hub['accepted']:>10.2f} |")
    print(f"| {'peak RSS of a worker (MB)':<28} | {base['peak_kb'] / 1024:>10.1f} | "
          f"{hub['peak_kb'] / 1024:>10.1f} |")
    print(f"| {'rows sent':<28} | {base['rows']:>10} | {hub['rows']:>10} |")


if __name__ == "__main__":
    main()
