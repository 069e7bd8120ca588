"""Unit tests of the outbound HTTP client, with ``responses`` standing in for the targets."""

from __future__ import annotations

import base64

import pytest
import requests
import responses

from hub.clients import DownstreamError, HttpTarget, OAuth2Token, TransientError, make_target
from hub.config import load_config
from hub.logs import bind

BASE = "https://dacs.utility.test/some/prefix"


def target(**kwargs: object) -> HttpTarget:
    config = load_config(env={}, overrides={"dacs.base.url": BASE + "/", **kwargs})
    return make_target(config, "dacs")


@responses.activate
def test_base_path_prefix_is_kept_and_correlation_id_sent() -> None:
    responses.post(f"{BASE}/rest/apis/cross/digitalAssets/programEnrollments/enroll",
                   json={"enrollmentId": "ENR-1"})
    with bind("corr-123"):
        status, body = target().call("enroll", json={"x": 1})
    assert (status, body) == (200, {"enrollmentId": "ENR-1"})
    assert responses.calls[0].request.headers["X-Correlation-ID"] == "corr-123"


@responses.activate
def test_path_params_are_quoted() -> None:
    responses.patch(f"{BASE}/rest/apis/common/sync/syncRequest/S%2F1", json={})
    status, _ = target().call("sync_request_update", method="PATCH", json={},
                              path_params={"syncRequestId": "S/1"})
    assert status == 200


@responses.activate
def test_basic_auth() -> None:
    responses.get(f"{BASE}/rest/apis/common/healthCheck", json={"status": "UP"})
    target(**{"dacs.auth.username": "u", "dacs.auth.password": "p"}).call("health_check",
                                                                           method="GET")
    expected = "Basic " + base64.b64encode(b"u:p").decode()
    assert responses.calls[0].request.headers["Authorization"] == expected


@responses.activate
def test_oauth2_token_is_cached_until_expiry() -> None:
    token_url = "https://idcs.utility.test/oauth2/v1/token"
    responses.post(token_url, json={"access_token": "tok-1", "expires_in": 3600})
    responses.get(f"{BASE}/rest/apis/common/healthCheck", json={"status": "UP"})
    client = target(**{"dacs.auth.token.url": token_url, "dacs.auth.client.id": "cid",
                       "dacs.auth.client.secret": "csecret", "dacs.auth.scope": "urn:dacs"})
    client.call("health_check", method="GET")
    client.call("health_check", method="GET")
    token_calls = [c for c in responses.calls if c.request.url == token_url]
    assert len(token_calls) == 1
    assert "grant_type=client_credentials" in token_calls[0].request.body
    assert "scope=urn%3Adacs" in token_calls[0].request.body
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer tok-1"
    assert "csecret" not in repr(client.oauth)


@responses.activate
def test_expired_token_is_fetched_again() -> None:
    token_url = "https://idcs.utility.test/token"
    responses.post(token_url, json={"access_token": "short", "expires_in": 10})  # < 30 s margin
    responses.get(f"{BASE}/rest/apis/common/healthCheck", json={})
    client = HttpTarget("dacs", BASE, {"health_check": "/rest/apis/common/healthCheck"},
                        oauth=OAuth2Token(token_url, "c", "s"))
    client.call("health_check", method="GET")
    client.call("health_check", method="GET")
    assert len([c for c in responses.calls if c.request.url == token_url]) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_5xx_is_transient(status: int) -> None:
    responses.post(f"{BASE}/rest/apis/cross/digitalAssets/programEnrollments/enroll",
                   status=status, json={"message": "boom"})
    with pytest.raises(TransientError) as caught:
        target().call("enroll", json={})
    assert caught.value.status == status and caught.value.message == "boom"


@responses.activate
def test_429_is_transient_with_retry_after() -> None:
    responses.post(f"{BASE}/rest/apis/cross/digitalAssets/programEnrollments/enroll",
                   status=429, headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as caught:
        target().call("enroll", json={})
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
@responses.activate
def test_other_4xx_is_not_retried(status: int) -> None:
    responses.post(f"{BASE}/rest/apis/cross/digitalAssets/programEnrollments/enroll",
                   status=status, json={"status": "ERROR", "messageNbr": "10589",
                                        "message": "already enrolled"})
    with pytest.raises(DownstreamError) as caught:
        target().call("enroll", json={})
    assert not isinstance(caught.value, TransientError)
    assert caught.value.body["messageNbr"] == "10589"
    assert caught.value.message == "already enrolled"


@responses.activate
def test_timeouts_and_connection_errors_are_transient() -> None:
    url = f"{BASE}/rest/apis/cross/digitalAssets/programEnrollments/enroll"
    responses.post(url, body=requests.ReadTimeout("slow"))
    with pytest.raises(TransientError, match="timed out"):
        target().call("enroll", json={})
    responses.replace(responses.POST, url, body=requests.ConnectionError("refused"))
    with pytest.raises(TransientError, match="connection failed"):
        target().call("enroll", json={})


def test_paths_can_be_overridden_in_config() -> None:
    client = target(**{"dacs.path.enroll": "/custom/enroll"})
    assert client.url("enroll") == BASE + "/custom/enroll"
