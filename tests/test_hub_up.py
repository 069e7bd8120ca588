"""``hub up --sandbox``: the README's run command, as a newcomer would use it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

import support


def test_hub_up_sandbox_runs_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port, flower_port = support.free_port(), support.free_port()
    sandbox_port, mail_port = support.free_port(), support.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_VAR_DIR"] = str(tmp_path / "var")
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "up", "--sandbox", "--port", str(port),
         "--flower-port", str(flower_port), "--sandbox-port", str(sandbox_port),
         "--mail-port", str(mail_port), "--concurrency", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    lines: list[str] = []
    try:
        support.wait_for(lambda: _healthy(port), timeout=60, what="the front door")
        credentials = json.loads((tmp_path / "var" / "sandbox-credentials.json").read_text())
        dacs = (credentials["dacs"]["username"], credentials["dacs"]["password"])
        ops = (credentials["ops"]["username"], credentials["ops"]["password"])

        def enroll() -> requests.Response | None:
            response = requests.post(
                f"http://127.0.0.1:{port}/api/v1/dacs/enrollment-syncs", auth=dacs, timeout=30,
                json=support.example("enrollment-sync.json"), headers={"X-Correlation-ID": "up-1"})
            return response if response.status_code != 504 else None

        # The worker may still be starting: the first answer can be a 504 (job queued), then 409
        answer = support.wait_for(enroll, timeout=60, what="an answer from the worker")
        assert answer.status_code in (200, 409), answer.text
        job = support.wait_for(lambda: (r := requests.get(
            f"http://127.0.0.1:{port}/api/v1/jobs/up-1", auth=dacs, timeout=5).json())
            ["status"] == "SUCCEEDED" and r, timeout=60, what="the job to succeed")
        assert job["flow"] == "enrollment_sync"
        derms_calls = requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/calls",
                                   params={"system": "derms"}, timeout=5).json()["calls"]
        # The hub authenticated as it would in production: an OAuth2 token for DERMS, which the
        # sandbox now requires (a call without one is refused).
        [enrolled] = [c for c in derms_calls if c["op"] == "enroll"]
        assert enrolled["auth"] == "bearer" and enrolled["status"] == 200
        assert requests.post(f"http://127.0.0.1:{sandbox_port}/derms/enroll", json={},
                             timeout=5).status_code == 401
        outbound = credentials["outbound"]
        assert requests.get(f"http://127.0.0.1:{sandbox_port}/dacs/rest/apis/common/healthCheck",
                            auth=(outbound["dacs"]["username"], outbound["dacs"]["password"]),
                            timeout=5).status_code == 200
        # Flower is up, behind the ops credentials
        flower = f"http://127.0.0.1:{flower_port}/"
        support.wait_for(lambda: _status(flower, None) == 401, timeout=60, what="Flower")
        token = base64.b64encode(f"{ops[0]}:{ops[1]}".encode()).decode()
        assert _status(flower, {"Authorization": f"Basic {token}"}) == 200
        # The workers answer a ping through the embedded broker's control exchange, after
        # Flower and the worker both bound to it at start (a race that once broke it for good)
        support.wait_for(lambda: _workers_up(port, ops), timeout=30, what="workers UP on /ops")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
        lines.append(out.decode("utf-8", "replace"))
    output = "".join(lines)
    assert process.returncode == 0, output[-3000:]
    assert "The hub is up." in output and "[hub up] stopped" in output
    assert f"http://localhost:{port}" in output
    assert credentials["ops"]["password"] in output  # printed once, for the operator
    # ... but never what the hub presents to DACS and DERMS, nor any token
    assert outbound["dacs"]["password"] not in output
    assert outbound["derms"]["client_secret"] not in output
    assert "access_token" not in output
    assert "Extra data" not in output and "JSONDecodeError" not in output, output[-3000:]
    time.sleep(0.5)
    assert not _healthy(port)  # every child is gone
    assert _status(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", None) is None


def _workers_up(port: int, ops: tuple[str, str]) -> bool:
    page = requests.get(f"http://127.0.0.1:{port}/ops/health", auth=ops, timeout=10).text
    row = page.split('data-part="workers"', 1)[1].split("</tr>", 1)[0]
    return "status-succeeded" in row and "UP" in row


def _healthy(port: int) -> bool:
    return _status(f"http://127.0.0.1:{port}/healthz", None) == 200


def _status(url: str, headers: dict[str, str] | None) -> int | None:
    try:
        return requests.get(url, headers=headers, timeout=2).status_code
    except requests.RequestException:
        return None
