"""The sandbox over real HTTP: every outbound path, the switches, scripted failures, auth, files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.sandbox import SandboxControl, serve_sandbox
from hub.sandbox.ops import DACS_PATHS, DERMS_PATHS

ENROLL = DACS_PATHS["enroll"][1]

#: one valid call per op: (system, op, body, expected status, expected answer keys/values)
CASES: list[tuple[str, str, Any, int, dict[str, Any]]] = [
    ("dacs", "health_check", None, 200, {"status": "UP"}),
    ("dacs", "enroll", {"programCode": "BYOT", "devices": [{"nicId": "NIC-ALL"}]}, 200,
     {"status": "PENDING"}),
    ("dacs", "device_status_response", {"communicationId": "COMM-5", "status": "ONLINE"}, 200,
     {"boStatus": "X1RECEIVED"}),
    ("dacs", "create_program_event", {"eventExternalIdentifier": "EV-1"}, 200,
     {"status": "CREATED"}),
    ("dacs", "action_program_event", {"eventExternalIdentifier": "EV-1", "action": "X1IP"}, 200,
     {"status": "ACTIONED", "action": "X1IP"}),
    ("dacs", "reserve_device", {"eventExternalIdentifier": "EV-1", "externalIdentifier": "S1",
                                "deviceList": [{"recordId": "1", "nicId": "N1"}]}, 200,
     {"status": "OK", "count": 1}),
    ("dacs", "post_event_outcome", {"eventExternalIdentifier": "EV-1", "postOutcomeList": [
        {"nicId": "N1", "outcome": "D1SP"}]}, 200, {"status": "OK", "count": 1}),
    ("dacs", "sync_request_update", {"syncRequestId": "S-77", "hasError": False}, 200,
     {"syncRequestId": "S-77", "status": "UPDATED"}),
    ("derms", "enroll", {"messageId": "S-77", "syncRequestId": "S-77"}, 200,
     {"messageId": "S-77", "ackType": "SUCCESS"}),
    ("derms", "status_check", {"messageId": "COMM-5"}, 200, {"ackType": "SUCCESS"}),
    ("derms", "event_opt_out", {"messageId": "OO-1"}, 200, {"ackType": "SUCCESS"}),
    ("derms", "update_program", {"messageId": "S-1", "programCode": "BYOT"}, 200,
     {"ackType": "SUCCESS"}),
    ("derms", "update_aggregator", {"messageId": "S-2", "aggregatorCode": "AGG"}, 200,
     {"ackType": "SUCCESS"}),
    ("derms", "device_score", None, 202, {"status": "ACCEPTED", "fileName": "score.csv"}),
    ("derms", "event_reservation_ack", {"messageId": "M-3", "ackType": "SUCCESS",
                                        "eventId": "EV-1", "stageId": "S1"}, 200,
     {"status": "RECEIVED"}),
    ("derms", "event_outcome_ack", {"messageId": "M-4", "ackType": "FAILURE"}, 200,
     {"status": "RECEIVED"}),
]


def call(base: str, system: str, op: str, body: Any = None, **kwargs: Any) -> requests.Response:
    """Call one op at its default path, as the hub's client does (base URL + path)."""
    method, path = (DACS_PATHS if system == "dacs" else DERMS_PATHS)[op]
    path = path.format(syncRequestId="S-77")
    if op == "device_score" and "files" not in kwargs:
        kwargs["files"] = {"file": ("score.csv", b"nicId,score\nN1,0.9\n", "text/csv")}
    elif body is not None:
        kwargs["json"] = body
    kwargs.setdefault("timeout", 10)
    return requests.request(method, f"{base}/{system}{path}", **kwargs)


@pytest.fixture
def control(sandbox_control: SandboxControl) -> SandboxControl:
    return sandbox_control


@pytest.fixture(scope="module")
def secured() -> Iterator[Any]:
    """A sandbox that wants credentials: Basic for DACS, a static token for DERMS, OAuth clients."""
    server = serve_sandbox(settings={
        "dacs_auth": {"username": "hub", "password": "dacs-secret-771"},
        "derms_auth": {"token": "derms-static-token-552"},
        "oauth_clients": {"hub-client": "oauth-secret-913"}})
    yield server
    server.shutdown()


@pytest.fixture
def secured_control(secured: Any) -> SandboxControl:
    control = SandboxControl(secured.url)
    control.reset()
    return control


# -- every path -------------------------------------------------------------------------------
@pytest.mark.parametrize(("system", "op", "body", "status", "expected"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_outbound_path_answers_its_assumed_shape(
        sandbox: Any, control: SandboxControl, system: str, op: str, body: Any, status: int,
        expected: dict[str, Any]) -> None:
    response = call(sandbox.url, system, op, body, headers={"X-Correlation-ID": f"cid-{op}"})
    assert response.status_code == status, response.text
    answer = response.json()
    assert {k: answer.get(k) for k in expected} == expected
    [logged] = control.calls(system=system, op=op)
    assert logged["status"] == status and logged["correlationId"] == f"cid-{op}"
    assert logged["method"] == (DACS_PATHS if system == "dacs" else DERMS_PATHS)[op][0]
    assert logged["path"].startswith(f"/{system}/")


def test_the_contract_table_is_fully_covered() -> None:
    assert {(s, o) for s, o, *_ in CASES} == (
        {("dacs", o) for o in DACS_PATHS} | {("derms", o) for o in DERMS_PATHS})
    assert len(DACS_PATHS) == 8 and len(DERMS_PATHS) == 8


def test_update_program_answers_a_stable_derms_id_per_program(sandbox: Any,
                                                              control: SandboxControl) -> None:
    first = call(sandbox.url, "derms", "update_program", {"messageId": "a", "programCode": "P1"})
    again = call(sandbox.url, "derms", "update_program", {"messageId": "b", "programCode": "P1"})
    other = call(sandbox.url, "derms", "update_program", {"messageId": "c", "programCode": "P2"})
    values = [r.json()["responses"][0]["value"] for r in (first, again, other)]
    assert values[0] == values[1] != values[2]
    assert values[0].startswith("DERMS-")
    assert first.json()["responses"][0]["id"] == "P1"
    assert first.json()["responses"][0]["responseCode"] == "SUCCESS"
    assert len(control.state()["derms"]["programUpdates"]) == 3


def test_unknown_path_is_404_and_wrong_method_405_both_logged(sandbox: Any,
                                                               control: SandboxControl) -> None:
    assert requests.post(f"{sandbox.dacs_url}/rest/nope", json={}, timeout=5).status_code == 404
    assert requests.get(f"{sandbox.dacs_url}{ENROLL}", timeout=5).status_code == 405
    assert [(c["op"], c["status"]) for c in control.calls(system="dacs")] == [
        ("unknown", 404), ("unknown", 405)]


def test_sync_request_id_with_a_slash_survives_quoting(sandbox: Any,
                                                       control: SandboxControl) -> None:
    url = f"{sandbox.dacs_url}/rest/apis/common/sync/syncRequest/S%2F9"
    response = requests.patch(url, json={"hasError": True}, timeout=5)
    assert response.json() == {"syncRequestId": "S/9", "status": "UPDATED"}
    assert control.state()["dacs"]["syncRequestUpdates"] == {"S/9": [{"hasError": True}]}


def test_paths_can_be_overridden_like_the_hub_config() -> None:
    server = serve_sandbox(settings={"paths": {"derms": {"enroll": "/v2/enrollments"}}})
    try:
        moved = requests.post(f"{server.derms_url}/v2/enrollments", json={"messageId": "m"},
                              timeout=5)
        assert moved.status_code == 200 and moved.json()["ackType"] == "SUCCESS"
        assert call(server.url, "derms", "enroll", {"messageId": "m"}).status_code == 404
        ops = [c["op"] for c in SandboxControl(server.url).calls(system="derms")]
        assert ops == ["enroll", "unknown"]
    finally:
        server.shutdown()


# -- DACS behaviour ---------------------------------------------------------------------------
def test_enrolling_a_device_twice_in_one_program_is_10589(sandbox: Any,
                                                          control: SandboxControl) -> None:
    body = {"programCode": "BYOT", "devices": [{"nicId": "NIC9"}]}
    first = call(sandbox.url, "dacs", "enroll", body)
    assert first.status_code == 200
    assert first.json()["enrollmentId"].startswith("ENR-")
    second = call(sandbox.url, "dacs", "enroll", body)
    assert second.status_code == 400
    assert second.json() == {"status": "ERROR", "messageNbr": "10589", "messageCategory": "11011",
                             "message": "Device already enrolled"}
    other_program = call(sandbox.url, "dacs", "enroll", {**body, "programCode": "PCT"})
    assert other_program.status_code == 200
    assert control.state()["dacs"]["enrolled"] == {"BYOT": ["NIC9"], "PCT": ["NIC9"]}


def test_parallel_enrolls_of_one_device_succeed_once(sandbox: Any, control: SandboxControl) -> None:
    body = {"programCode": "BYOT", "devices": [{"nicId": "NIC-RACE"}]}
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: call(sandbox.url, "dacs", "enroll", body).status_code,
                                 range(16)))
    assert sorted(statuses) == [200] + [400] * 15


@pytest.mark.parametrize("body", [
    {"devices": [{"nicId": "N1"}]}, {"programCode": "BYOT"}, {"programCode": "BYOT", "devices": []},
    ["not", "an", "object"]])
def test_enroll_without_program_or_devices_is_val_error(sandbox: Any, control: SandboxControl,
                                                        body: Any) -> None:
    response = call(sandbox.url, "dacs", "enroll", body)
    assert response.status_code == 422
    assert response.json()["status"] == "VAL-ERROR" and response.json()["messageNbr"] == "10001"


@pytest.mark.parametrize(("op", "body"), [
    ("reserve_device", {"eventExternalIdentifier": "EV-1", "deviceList": "x"}),
    ("post_event_outcome", {"eventExternalIdentifier": "EV-1"}),
    ("create_program_event", "just a string")])
def test_dacs_ops_refuse_bodies_without_their_list(sandbox: Any, control: SandboxControl, op: str,
                                                   body: Any) -> None:
    response = call(sandbox.url, "dacs", op, body)
    assert response.status_code == 422 and response.json()["status"] == "VAL-ERROR"


def test_reservations_count_record_ids_across_parallel_segments(sandbox: Any,
                                                                control: SandboxControl) -> None:
    def segment(start: int) -> int:
        rows = [{"recordId": str(i), "nicId": f"N{i}", "headEndSystem": "ECOBEE"}
                for i in range(start, start + 50)]
        body = {"eventExternalIdentifier": "EV-R", "externalIdentifier": "EV-R-S1",
                "deviceList": rows}
        return call(sandbox.url, "dacs", "reserve_device", body).json()["count"]

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(segment, range(0, 1000, 50))) == 1000
    segment(0)  # a replayed segment shows up as duplicates
    [reservation] = control.state()["dacs"]["reservations"]
    assert reservation == {"eventExternalIdentifier": "EV-R", "externalIdentifier": "EV-R-S1",
                           "calls": 21, "count": 1050, "unique": 1000, "duplicates": 50}
    with_ids = control.state(record_ids=True)["dacs"]["reservations"][0]["recordIds"]
    assert sorted(set(with_ids), key=int) == [str(i) for i in range(1000)]
    logged = control.calls(system="dacs", op="reserve_device")[-1]["json"]
    assert logged["deviceList"] == {"count": 50, "firstRecordId": "0", "lastRecordId": "49"}
    assert logged["eventExternalIdentifier"] == "EV-R"


def test_outcomes_are_kept_per_event(sandbox: Any, control: SandboxControl) -> None:
    for event, outcomes in (("EV-1", ["D1SP", "D1SP", "D1ER"]), ("EV-2", ["D1ND"])):
        rows = [{"nicId": f"N{i}", "headEndSystem": "ECOBEE", "outcome": o}
                for i, o in enumerate(outcomes)]
        call(sandbox.url, "dacs", "post_event_outcome",
             {"eventExternalIdentifier": event, "postOutcomeList": rows})
    by_event = {o["eventExternalIdentifier"]: o for o in control.state()["dacs"]["outcomes"]}
    assert by_event["EV-1"]["byOutcome"] == {"D1SP": 2, "D1ER": 1}
    assert by_event["EV-2"] == {"eventExternalIdentifier": "EV-2", "calls": 1, "count": 1,
                                "byOutcome": {"D1ND": 1}}


# -- switches and scripted failures -----------------------------------------------------------
def test_down_answers_503_for_every_op_of_that_system_only(sandbox: Any,
                                                           control: SandboxControl) -> None:
    control.switches("dacs", down=True)
    for system, op, body, status, _ in CASES:
        response = call(sandbox.url, system, op, body)
        assert response.status_code == (503 if system == "dacs" else status), (system, op)
    assert all(c["status"] == 503 for c in control.calls(system="dacs"))
    assert control.state()["dacs"]["enrollments"] == []  # a down system stores nothing
    control.switches("dacs", down=False)
    assert call(sandbox.url, "dacs", "health_check").status_code == 200


def test_an_op_level_switch_leaves_the_other_ops_alone(sandbox: Any,
                                                       control: SandboxControl) -> None:
    control.switches("derms", op="device_score", down=True)
    assert call(sandbox.url, "derms", "device_score").status_code == 503
    assert call(sandbox.url, "derms", "status_check", {"messageId": "x"}).status_code == 200


def test_latency_switch_delays_answers(sandbox: Any, control: SandboxControl) -> None:
    control.switches("dacs", latency_ms=300)
    started = time.monotonic()
    assert call(sandbox.url, "dacs", "health_check").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert control.calls(system="dacs")[0]["elapsedMs"] >= 300


def test_error_rate_one_fails_everything_and_zero_nothing(sandbox: Any,
                                                          control: SandboxControl) -> None:
    control.switches("derms", error_rate=1.0)
    assert {call(sandbox.url, "derms", "event_opt_out", {}).status_code for _ in range(5)} == {500}
    control.switches("derms", error_rate=0.0)
    assert {call(sandbox.url, "derms", "event_opt_out", {}).status_code for _ in range(5)} == {200}
    assert len(control.state()["derms"]["optOuts"]) == 5


def test_scripted_failure_n_times_then_success(sandbox: Any, control: SandboxControl) -> None:
    control.fail("derms", "enroll", status=503, times=2)
    statuses = [call(sandbox.url, "derms", "enroll", {"syncRequestId": "S-1"}).status_code
                for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [c["status"] for c in control.calls(system="derms", op="enroll")] == statuses
    assert control.state()["failures"] == []  # spent failures are gone


def test_scripted_failure_with_body_and_retry_after(sandbox: Any, control: SandboxControl) -> None:
    control.fail("dacs", "reserve_device", status=429, times=1, retry_after=7,
                 body={"status": "ERROR", "message": "slow down"})
    body = {"eventExternalIdentifier": "EV-1", "deviceList": []}
    response = call(sandbox.url, "dacs", "reserve_device", body)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"status": "ERROR", "message": "slow down"}
    following = call(sandbox.url, "dacs", "reserve_device", body)
    assert following.status_code == 200 and "Retry-After" not in following.headers


def test_scripted_failure_matches_on_body_keys(sandbox: Any, control: SandboxControl) -> None:
    control.fail("dacs", "post_event_outcome", status=500, times=-1,
                 match={"eventExternalIdentifier": "EV-2"})
    for _ in range(3):
        for event, expected in (("EV-1", 200), ("EV-2", 500)):
            body = {"eventExternalIdentifier": event, "postOutcomeList": []}
            assert call(sandbox.url, "dacs", "post_event_outcome", body).status_code == expected
    assert len(control.state()["failures"]) == 1  # times=-1 never runs out


def test_scripted_failure_without_op_hits_every_op_of_the_system(sandbox: Any,
                                                                 control: SandboxControl) -> None:
    control.fail("dacs", None, status=502, times=2)
    assert call(sandbox.url, "derms", "status_check", {}).status_code == 200
    assert call(sandbox.url, "dacs", "health_check").status_code == 502
    assert call(sandbox.url, "dacs", "enroll", {"programCode": "X"}).status_code == 502
    assert call(sandbox.url, "dacs", "health_check").status_code == 200


def test_delay_only_failure_times_the_client_out_then_processes(sandbox: Any,
                                                                control: SandboxControl) -> None:
    control.fail("dacs", "enroll", status=None, delay_ms=600)
    body = {"programCode": "SLOW", "devices": [{"nicId": "N-SLOW"}]}
    with pytest.raises(requests.Timeout):
        call(sandbox.url, "dacs", "enroll", body, timeout=0.2)
    deadline = time.monotonic() + 5
    while not control.calls(system="dacs", op="enroll") and time.monotonic() < deadline:
        time.sleep(0.05)
    [logged] = control.calls(system="dacs", op="enroll")
    assert logged["status"] == 200 and logged["elapsedMs"] >= 600
    # the slow call went through, so the retry finds the device already enrolled
    assert call(sandbox.url, "dacs", "enroll", body).json()["messageNbr"] == "10589"


@pytest.mark.parametrize(("path", "body"), [
    ("switches", {"system": "nope"}),
    ("switches", {"system": "dacs", "error_rate": 2}),
    ("switches", {"system": "dacs", "down": "false"}),
    ("failures", {"system": "dacs", "op": "enroll", "times": 0, "status": 500}),
    ("failures", {"system": "dacs", "op": "enroll"}),
    ("failures", {"system": "dacs", "status": 500, "match": ["x"]}),
])
def test_control_api_refuses_bad_requests(sandbox: Any, control: SandboxControl, path: str,
                                          body: dict[str, Any]) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)
    assert response.status_code == 400
    state = control.state()
    assert state["failures"] == [] and state["switches"] == []


# -- auth -------------------------------------------------------------------------------------
def test_open_sandbox_accepts_anything(sandbox: Any, control: SandboxControl) -> None:
    for auth in (None, ("anyone", "anything")):
        assert call(sandbox.url, "dacs", "health_check", auth=auth).status_code == 200


def test_basic_auth_refused_then_accepted(secured: Any, secured_control: SandboxControl) -> None:
    assert call(secured.url, "dacs", "health_check").status_code == 401
    wrong = call(secured.url, "dacs", "health_check", auth=("hub", "nope"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers["WWW-Authenticate"]
    assert call(secured.url, "dacs", "health_check", auth=("hub", "dacs-secret-771")).ok
    # DERMS wants its own token; DACS's Basic credentials are not enough there
    assert call(secured.url, "derms", "status_check", {}, auth=("hub", "dacs-secret-771")
                ).status_code == 401
    derms = {"Authorization": "Bearer derms-static-token-552"}
    assert call(secured.url, "derms", "status_check", {}, headers=derms).status_code == 200
    assert [c["status"] for c in secured_control.calls()] == [401, 401, 200, 401, 200]
    assert secured_control.state()["derms"]["statusChecks"] == [{}]  # refused calls store nothing


@pytest.mark.parametrize("in_form", [True, False], ids=["form-credentials", "basic-credentials"])
def test_oauth_client_credentials_token_is_accepted_by_both_systems(
        secured: Any, secured_control: SandboxControl, in_form: bool) -> None:
    data = {"grant_type": "client_credentials"}
    auth = None
    if in_form:
        data.update(client_id="hub-client", client_secret="oauth-secret-913")
    else:
        auth = ("hub-client", "oauth-secret-913")
    response = requests.post(secured.token_url, data=data, auth=auth, timeout=5)
    assert response.status_code == 200
    grant = response.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {grant['access_token']}"}
    assert call(secured.url, "dacs", "health_check", headers=bearer).status_code == 200
    assert call(secured.url, "derms", "event_outcome_ack", {}, headers=bearer).status_code == 200
    assert call(secured.url, "dacs", "health_check",
                headers={"Authorization": "Bearer made-up"}).status_code == 401
    assert secured_control.state()["tokenGrants"] == 1
    [token_call] = secured_control.calls(system="oauth", op="token")
    assert token_call["status"] == 200
    if in_form:
        assert token_call["form"] == {"grant_type": "client_credentials", "client_id": "hub-client"}
    else:
        assert (token_call["auth"], token_call["user"]) == ("basic", "hub-client")


@pytest.mark.parametrize(("data", "auth", "status", "error"), [
    ({"grant_type": "client_credentials", "client_id": "hub-client", "client_secret": "x"}, None,
     401, "invalid_client"),
    ({"grant_type": "client_credentials"}, ("intruder", "oauth-secret-913"), 401,
     "invalid_client"),
    ({"grant_type": "password", "client_id": "hub-client", "client_secret": "oauth-secret-913"},
     None, 400, "unsupported_grant_type"),
])
def test_token_endpoint_refuses_bad_clients_and_grants(
        secured: Any, secured_control: SandboxControl, data: dict[str, str],
        auth: tuple[str, str] | None, status: int, error: str) -> None:
    response = requests.post(secured.token_url, data=data, auth=auth, timeout=5)
    assert response.status_code == status and response.json()["error"] == error
    assert secured_control.state()["tokenGrants"] == 0


def test_expired_tokens_are_refused() -> None:
    server = serve_sandbox(settings={"oauth_clients": {"c": "s"}, "token_expires_in": 0})
    try:
        token = requests.post(server.token_url, data={"grant_type": "client_credentials"},
                              auth=("c", "s"), timeout=5).json()["access_token"]
        response = call(server.url, "dacs", "health_check",
                        headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    finally:
        server.shutdown()


def test_auth_can_be_switched_on_at_run_time_and_reset_restores_it(
        sandbox: Any, control: SandboxControl) -> None:
    control.auth(derms_auth={"username": "u", "password": "p"})
    assert call(sandbox.url, "derms", "status_check", {}).status_code == 401
    assert call(sandbox.url, "derms", "status_check", {}, auth=("u", "p")).status_code == 200
    assert call(sandbox.url, "dacs", "health_check").status_code == 200  # DACS still open
    control.reset()
    assert call(sandbox.url, "derms", "status_check", {}).status_code == 200


def test_the_call_log_never_holds_a_secret(secured: Any, secured_control: SandboxControl) -> None:
    requests.post(secured.token_url, timeout=5, data={
        "grant_type": "client_credentials", "client_id": "hub-client",
        "client_secret": "oauth-secret-913"})
    call(secured.url, "dacs", "health_check", auth=("hub", "dacs-secret-771"),
         headers={"X-Correlation-ID": "corr-42"})
    call(secured.url, "derms", "enroll", {"syncRequestId": "S-1"},
         headers={"Authorization": "Bearer derms-static-token-552", "X-Correlation-ID": "corr-43"})
    calls = secured_control.calls()
    assert [(c["system"], c["auth"], c["correlationId"]) for c in calls] == [
        ("oauth", None, None), ("dacs", "basic", "corr-42"), ("derms", "bearer", "corr-43")]
    assert calls[1]["user"] == "hub"
    dumped = json.dumps(calls) + json.dumps(secured_control.state())
    for secret in ("dacs-secret-771", "derms-static-token-552", "oauth-secret-913"):
        assert secret not in dumped


# -- files ------------------------------------------------------------------------------------
class StreamedMultipart:
    """A multipart body generated on the fly, so the client side does not hold the file either."""

    def __init__(self, filename: str, size: int, boundary: str = "sandbox-test-boundary") -> None:
        self.boundary = boundary
        self.head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                     f"filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n").encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = size
        self.digest = hashlib.sha256()
        self._parts = self._generate()
        self._buffer = b""

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def _generate(self) -> Iterator[bytes]:
        yield self.head
        block = b"".join(b"N%07d,0.%03d\n" % (i, i % 1000) for i in range(4096))
        left = self.size
        while left:
            chunk = block[:left]
            self.digest.update(chunk)
            left -= len(chunk)
            yield chunk
        yield self.tail

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._parts)
            except StopIteration:
                break
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def test_device_score_upload_is_hashed_while_streaming(sandbox: Any,
                                                       control: SandboxControl) -> None:
    body = StreamedMultipart("DVC_SCORE_20261204.csv", 32 * 1024 * 1024 + 7)
    tracemalloc.start()
    try:
        response = requests.post(f"{sandbox.derms_url}/device-score", data=body, timeout=30,
                                 headers={"Content-Type": f"multipart/form-data; boundary="
                                                          f"{body.boundary}",
                                          "X-Correlation-ID": "score-1"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 202
    assert response.json() == {"status": "ACCEPTED", "fileName": "DVC_SCORE_20261204.csv"}
    expected = {"filename": "DVC_SCORE_20261204.csv", "size": body.size,
                "sha256": body.digest.hexdigest(), "contentType": "text/csv"}
    [logged] = control.calls(system="derms", op="device_score")
    assert logged["file"] == expected and logged["correlationId"] == "score-1"
    [stored] = control.state()["derms"]["deviceScores"]
    assert {k: stored[k] for k in expected} == expected
    # Werkzeug's server drains each closed connection with one read(10_000_000), which briefly
    # allocates 10 MB whatever the upload size; anything near 32 MB would mean buffering.
    assert peak < 12 * 1024 * 1024, f"peak {peak} bytes: the upload was buffered"


def test_device_score_without_a_file_part_is_400(sandbox: Any, control: SandboxControl) -> None:
    response = call(sandbox.url, "derms", "device_score", files={"other": ("x.csv", b"a")})
    assert response.status_code == 400
    assert control.state()["derms"]["deviceScores"] == []


# -- log, reset, process ----------------------------------------------------------------------
def test_call_log_is_bounded() -> None:
    server = serve_sandbox(settings={"max_calls": 5})
    try:
        for i in range(8):
            call(server.url, "dacs", "health_check", headers={"X-Correlation-ID": f"c{i}"})
        calls = SandboxControl(server.url).calls()
        assert [c["correlationId"] for c in calls] == [f"c{i}" for i in range(3, 8)]
    finally:
        server.shutdown()


def test_reset_clears_state_calls_switches_and_failures(sandbox: Any,
                                                        control: SandboxControl) -> None:
    call(sandbox.url, "dacs", "enroll", {"programCode": "B", "devices": [{"nicId": "N"}]})
    control.switches("derms", latency_ms=5)
    control.fail("dacs", "enroll", status=500, times=-1)
    assert control.state()["dacs"]["enrollments"] and control.calls()
    control.reset()
    state = control.state()
    assert state["dacs"]["enrolled"] == {} and state["calls"] == 0
    assert state["failures"] == [] and state["switches"] == []
    assert control.calls() == []
    again = call(sandbox.url, "dacs", "enroll", {"programCode": "B", "devices": [{"nicId": "N"}]})
    assert again.status_code == 200 and again.json()["enrollmentId"] == "ENR-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_m_hub_sandbox_runs_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"dacs_auth": {"username": "u", "password": "p"}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.sandbox", "--port", str(port), "--settings", str(settings)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner: list[bytes] = []
        reader = threading.Thread(target=lambda: banner.append(process.stdout.readline()))
        reader.start()
        reader.join(timeout=15)
        assert banner and f"127.0.0.1:{port}/dacs".encode() in banner[0]
        base = f"http://127.0.0.1:{port}"
        assert call(base, "dacs", "health_check").status_code == 401
        assert call(base, "dacs", "health_check", auth=("u", "p")).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
