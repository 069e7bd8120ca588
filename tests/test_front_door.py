"""The front door's refusals: each gets its status and problem+json, and nothing is enqueued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import support
from support import example
from tasks.app import queue_depth

SYNC_PATH = "/api/v1/dacs/enrollment-syncs"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["correlationId"] == response.headers["X-Correlation-ID"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def assert_nothing_enqueued(door: Any) -> None:
    assert door.ledger.list_jobs() == []
    assert queue_depth("hub") == 0


def test_health_needs_no_auth_and_readyz_checks_broker_and_ledger(door: Any) -> None:
    assert door.client.get("/healthz").status_code == 200
    ready = door.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"broker": "ok", "ledger": "ok"}


def test_readyz_reports_a_broker_that_is_down(tmp_path: Path) -> None:
    from conftest import Stack

    overrides = support.door_overrides(tmp_path)
    overrides["broker.url"] = f"redis://127.0.0.1:{support.free_port()}/0"
    config = support.make_config(overrides)
    stack = Stack("down", config, tmp_path / "x.conf", None).activate()
    ready = stack.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["broker"] != "ok"
    assert ready.get_json()["checks"]["ledger"] == "ok"


def test_missing_and_wrong_credentials_get_401(door: Any) -> None:
    response = door.client.post(SYNC_PATH, json=example("enrollment-sync.json"))
    body = assert_problem(response, 401)
    assert "Basic" in response.headers["WWW-Authenticate"]
    assert "credentials" in body["detail"]
    wrong = door.client.post(SYNC_PATH, json=example("enrollment-sync.json"),
                             headers={"Authorization": "Basic ZGFjcy11c2VyOm5vcGU="})
    assert_problem(wrong, 401)
    garbage = door.client.post(SYNC_PATH, json={}, headers={"Authorization": "Basic %%%"})
    assert_problem(garbage, 401)
    assert_nothing_enqueued(door)


def test_another_systems_flow_gets_403(door: Any) -> None:
    response = door.post(SYNC_PATH, as_client="derms", json=example("enrollment-sync.json"))
    assert "derms" in assert_problem(response, 403)["detail"]
    assert_nothing_enqueued(door)


def test_bearer_token_is_accepted(door: Any, tmp_path: Path) -> None:
    from conftest import Stack

    overrides = support.door_overrides(tmp_path)
    overrides["clients.ops.token"] = "tok-ops-123"
    stack = Stack("t", support.make_config(overrides), tmp_path / "x.conf", None).activate()
    ok = stack.client.get("/api/v1/jobs", headers={"Authorization": "Bearer tok-ops-123"})
    assert ok.status_code == 200 and ok.get_json() == {"jobs": []}
    assert_problem(stack.client.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"}), 401)


def test_malformed_json_is_400_naming_the_position(door: Any) -> None:
    response = door.post(SYNC_PATH, as_client="dacs", data=b'{"sendDetails": ',
                         content_type="application/json")
    body = assert_problem(response, 400)
    assert "line 1 column" in body["detail"]
    assert_nothing_enqueued(door)


def test_wrong_content_type_is_400(door: Any) -> None:
    response = door.post(SYNC_PATH, as_client="dacs", data=b"<xml/>", content_type="text/xml")
    body = assert_problem(response, 400)
    assert "Content-Type" in body["errors"]
    assert_nothing_enqueued(door)


def test_missing_field_is_400_naming_the_field(door: Any) -> None:
    message = example("enrollment-sync.json")
    del message["sendDetails"]["syncRequestId"]
    del message["subscriptionInfo"]["programCode"]
    body = assert_problem(door.post(SYNC_PATH, as_client="dacs", json=message), 400)
    assert set(body["errors"]) == {"sendDetails.syncRequestId", "subscriptionInfo.programCode"}
    assert_nothing_enqueued(door)


def test_unknown_field_and_wrong_type_are_400(door: Any) -> None:
    message = example("enrollment-sync.json")
    message["subscriptionInfo"]["programCodee"] = "typo"
    message["locationInfo"]["controllableDevices"][0]["nicId"] = 12
    body = assert_problem(door.post(SYNC_PATH, as_client="dacs", json=message), 400)
    assert "subscriptionInfo.programCodee" in body["errors"]
    assert "locationInfo.controllableDevices.0.nicId" in body["errors"]
    assert_nothing_enqueued(door)


def test_json_array_body_is_400(door: Any) -> None:
    body = assert_problem(door.post(SYNC_PATH, as_client="dacs", json=[1, 2]), 400)
    assert body["errors"] == {"body": ["must be a JSON object"]}


def test_oversize_body_is_413(door: Any, tmp_path: Path) -> None:
    from conftest import Stack

    overrides = support.door_overrides(tmp_path)
    overrides["upload.max.bytes"] = 2048
    stack = Stack("small", support.make_config(overrides), tmp_path / "x.conf", None).activate()
    message = example("enrollment-sync.json")
    message["contactInfo"]["contactId"] = "x" * 4000
    body = assert_problem(stack.post(SYNC_PATH, as_client="dacs", json=message), 413)
    assert "upload.max.bytes" in body["detail"]
    assert stack.ledger.list_jobs() == []


def test_unknown_path_404_and_wrong_method_405(door: Any) -> None:
    assert_problem(door.get("/api/v1/nope"), 404)
    response = door.get(SYNC_PATH, as_client="dacs")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_unexpected_error_is_500_without_a_stack_trace(door: Any) -> None:
    @door.app.get("/boom")
    def boom() -> str:
        raise KeyError("internal detail")

    body = assert_problem(door.client.get("/boom"), 500)
    assert "internal detail" not in json.dumps(body)


def test_correlation_id_is_echoed_or_made(door: Any) -> None:
    response = door.client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
    assert response.headers["X-Correlation-ID"] == "abc-123"
    made = door.client.get("/healthz").headers["X-Correlation-ID"]
    assert len(made) == 36
    # an id with characters that could forge log lines or headers is replaced, not echoed
    odd = door.client.get("/healthz", headers={"X-Correlation-ID": "a b\tc"})
    assert odd.headers["X-Correlation-ID"] != "a b\tc"


def test_accepted_message_is_recorded_and_enqueued(door: Any) -> None:
    """With no worker running, the sync flow times out with 504 and the job id; it was stored."""
    from hub import runtime

    runtime.get().config.values["sync.timeout.seconds"] = 0.5  # type: ignore[index]
    try:
        response = door.post(SYNC_PATH, as_client="dacs", json=example("enrollment-sync.json"),
                             headers={"X-Correlation-ID": "corr-504"})
    finally:
        runtime.get().config.values["sync.timeout.seconds"] = 30  # type: ignore[index]
    body = assert_problem(response, 504)
    assert body["jobId"] == "corr-504" and body["statusUrl"] == "/api/v1/jobs/corr-504"
    job = door.get("/api/v1/jobs/corr-504", as_client="dacs").get_json()
    assert job["status"] == "QUEUED" and job["flow"] == "enrollment_sync"
    assert queue_depth("hub") == 1
    # the same message again, while the first is queued: 409
    again = door.post(SYNC_PATH, as_client="dacs", json=example("enrollment-sync.json"))
    assert assert_problem(again, 409)["jobId"] == "corr-504"
    assert queue_depth("hub") == 1


def test_jobs_are_visible_to_their_client_and_ops_only(door: Any) -> None:
    door.ledger.create_job("J-dacs", "enrollment_sync", client="dacs")
    assert door.get("/api/v1/jobs/J-dacs", as_client="dacs").status_code == 200
    assert door.get("/api/v1/jobs/J-dacs", as_client="ops").status_code == 200
    assert_problem(door.get("/api/v1/jobs/J-dacs", as_client="derms"), 404)
    listed = door.get("/api/v1/jobs?flow=enrollment_sync", as_client="derms").get_json()
    assert listed == {"jobs": []}
    assert_problem(door.get("/api/v1/jobs?since=yesterday"), 400)


def test_openapi_document_is_generated_from_the_schemas(door: Any) -> None:
    from openapi_spec_validator import validate

    spec = door.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)  # a valid OpenAPI 3 document, not merely JSON
    operation = spec["paths"][SYNC_PATH]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EnrollmentSync"}
    schema = spec["components"]["schemas"]["EnrollmentSync"]
    assert "sendDetails" in schema["required"]
    # not only the flows: the jobs and failed-work API ops script against
    for path, method in (("/api/v1/jobs", "get"), ("/api/v1/jobs/{jobId}", "get"),
                         ("/api/v1/failed", "get"), ("/api/v1/failed/{id}", "get"),
                         ("/api/v1/failed/{id}/requeue", "post"),
                         ("/api/v1/failed/requeue", "post"),
                         ("/api/v1/failed/{id}/discard", "post")):
        assert method in spec["paths"][path], path
    assert "404" in spec["paths"]["/api/v1/jobs/{jobId}"]["get"]["responses"]
    # every route the app serves under /api/v1 is in the document
    rules = {str(rule.rule).replace("<job_id>", "{jobId}").replace("<entry_id>", "{id}")
             for rule in door.app.url_map.iter_rules() if str(rule.rule).startswith("/api/v1")}
    assert rules - set(spec["paths"]) <= {"/api/v1/openapi.json", "/api/v1/docs"}
    page = door.get("/api/v1/docs")
    assert page.status_code == 200 and SYNC_PATH in page.get_data(as_text=True)
    assert door.client.get("/api/v1/openapi.json").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/openapi.json", SYNC_PATH,
                                  "/api/v1/common/errors"])
def test_every_api_endpoint_needs_auth(door: Any, path: str) -> None:
    assert door.client.open(path, method="POST" if "jobs" not in path and "openapi" not in path
                            else "GET").status_code == 401
