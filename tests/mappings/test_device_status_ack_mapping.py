from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from mappings.device_status_ack import DeviceStatusAckSchema, failure, message_id, success, to_dacs


def status_ack(**changes: Any) -> dict[str, Any]:
    """The contract's MsgAck, as DERMS reports a device's status for DACS check COMM-5."""
    ack = {"messageId": "M-31", "ackType": "SUCCESS", "whenISO": "2026-12-04T10:00:00.000Z",
           "responses": [{"id": "NIC9", "value": "ONLINE", "responseCode": "SUCCESS",
                          "responseText": "", "responseTimeISO": "2026-12-04T09:59:00.000Z",
                          "dacsMessageId": "COMM-5"}]}
    ack.update(changes)
    return ack


def test_ack_maps_to_one_device_status_post_per_communication() -> None:
    message = DeviceStatusAckSchema().load(status_ack())
    assert message_id(message) == "M-31"
    assert to_dacs(message) == [("COMM-5", {
        "communicationId": "COMM-5", "messageId": "M-31", "ackType": "SUCCESS",
        "statusDateTime": "2026-12-04T10:00:00.000Z",
        "devices": [{"nicId": "NIC9", "deviceStatus": "ONLINE", "responseCode": "SUCCESS",
                     "message": "", "statusDateTime": "2026-12-04T09:59:00.000Z"}]})]


def test_a_device_derms_could_not_reach_is_passed_on_as_derms_said() -> None:
    message = DeviceStatusAckSchema().load(status_ack(ackType="ERROR", responses=[
        {"id": "NIC9", "value": None, "responseCode": "ERROR", "responseText": "no answer",
         "dacsMessageId": "COMM-5"},
        {"id": "NIC10", "value": "OFFLINE", "responseCode": "SUCCESS",
         "dacsMessageId": "COMM-6"}]))
    calls = dict(to_dacs(message))
    assert list(calls) == ["COMM-5", "COMM-6"]
    assert calls["COMM-5"]["devices"][0] == {"nicId": "NIC9", "deviceStatus": None,
                                             "responseCode": "ERROR", "message": "no answer",
                                             "statusDateTime": None}
    assert calls["COMM-6"]["ackType"] == "ERROR"


def test_success_answer_has_bo_status_as_response_code_and_ack_success() -> None:
    message = DeviceStatusAckSchema().load(status_ack())
    ack = success(message, [("COMM-5", "X1RECEIVED")])
    assert ack["messageId"] == "M-31" and ack["ackType"] == "SUCCESS"
    [response] = ack["responses"]
    assert response["responseCode"] == "X1RECEIVED" and response["id"] == "COMM-5"
    assert response["dacsMessageId"] == "COMM-5"


def test_failure_answer_names_the_dacs_error_for_each_check() -> None:
    message = DeviceStatusAckSchema().load(status_ack())
    ack = failure(message, "DACS answered HTTP 503: down")
    assert ack["ackType"] == "FAILURE"
    assert [(r["id"], r["responseCode"], r["responseText"]) for r in ack["responses"]] == \
        [("COMM-5", "FAILURE", "DACS answered HTTP 503: down")]


@pytest.mark.parametrize("change", [{"ackType": "OK"}, {"responses": None}, {"whenISO": 5}])
def test_bad_acks_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DeviceStatusAckSchema().load(status_ack(**change))
