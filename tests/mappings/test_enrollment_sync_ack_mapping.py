from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from mappings.enrollment_sync_ack import (
    EnrollmentSyncAckSchema,
    answer,
    message_id,
    sync_request_update,
    to_dacs,
)


def contract_ack(**changes: Any) -> dict[str, Any]:
    """The contract's MsgAck example, as DERMS acknowledges an enrollment sync."""
    ack = {"messageId": "M-1", "ackType": "SUCCESS", "whenISO": "2026-12-04T10:00:00.000Z",
           "responses": [{"id": "E-1", "value": "2001234567", "responseCode": "SUCCESS",
                          "responseText": "", "responseTimeISO": "2026-12-04T10:00:00.000Z",
                          "dacsMessageId": "S-77"}]}
    ack.update(changes)
    return ack


def load(raw: dict[str, Any]) -> dict[str, Any]:
    return EnrollmentSyncAckSchema().load(raw)


def test_contract_example_maps_to_one_sync_request_update() -> None:
    message = load(contract_ack())
    assert message_id(message) == "M-1"
    assert message["drmsInstanceId"] is None
    assert to_dacs(message) == [("S-77", {
        "syncRequestId": "S-77", "hasError": False, "exceptionInfo": [],
        "externalIds": {"E-1": "2001234567"}})]


@pytest.mark.parametrize("ack", ["ERROR", "FAILURE"])
def test_a_negative_ack_sets_has_error_and_exception_info(ack: str) -> None:
    message = load(contract_ack(ackType=ack, responses=[
        {"id": "E-1", "value": None, "responseCode": ack, "responseText": "unknown program",
         "dacsMessageId": "S-77"}]))
    [(sync_id, body)] = to_dacs(message)
    assert sync_id == "S-77"
    assert body == {"syncRequestId": "S-77", "hasError": True,
                    "exceptionInfo": [{"id": "E-1", "code": ack, "message": "unknown program"}],
                    "externalIds": {}}


def test_negative_ack_type_with_only_successful_responses_still_reports_an_exception() -> None:
    body = sync_request_update("S-1", "FAILURE", [
        {"id": "E-1", "value": "D-1", "responseCode": "SUCCESS", "responseText": ""}])
    assert body["hasError"] is True
    assert body["exceptionInfo"] == [{"id": None, "code": "FAILURE",
                                      "message": "DERMS acknowledged with FAILURE"}]
    assert body["externalIds"] == {"E-1": "D-1"}


def test_responses_for_several_sync_requests_give_one_update_each() -> None:
    message = load(contract_ack(ackType="ERROR", responses=[
        {"id": "E-1", "value": "D-1", "responseCode": "SUCCESS", "dacsMessageId": "S-1"},
        {"id": "E-2", "value": "", "responseCode": "ERROR", "responseText": "bad",
         "dacsMessageId": "S-2"},
        {"id": "E-3", "value": "D-3", "responseCode": "SUCCESS", "dacsMessageId": "S-1"}]))
    updates = dict(to_dacs(message))
    assert list(updates) == ["S-1", "S-2"]
    assert updates["S-1"]["externalIds"] == {"E-1": "D-1", "E-3": "D-3"}
    # the overall ackType is ERROR, so every sync request of this ack is marked in error
    assert updates["S-1"]["hasError"] is True and updates["S-2"]["hasError"] is True
    assert updates["S-2"]["exceptionInfo"] == [{"id": "E-2", "code": "ERROR", "message": "bad"}]


def test_answer_lists_what_dacs_took() -> None:
    message = load(contract_ack())
    assert answer(message, [{"syncRequestId": "S-77", "status": "UPDATED"}]) == {
        "messageId": "M-1", "status": "UPDATED",
        "syncRequests": [{"syncRequestId": "S-77", "status": "UPDATED"}]}


@pytest.mark.parametrize("change", [
    {"ackType": "MAYBE"}, {"responses": []}, {"messageId": ""}, {"drmsInstanceId": "DERMS9"},
    {"responses": [{"id": "E-1", "responseCode": "SUCCESS"}]},   # no dacsMessageId
    {"extra": 1},
])
def test_bad_acks_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        load(contract_ack(**change))


def test_known_drms_instance_is_kept() -> None:
    assert load(contract_ack(drmsInstanceId="DERMS1"))["drmsInstanceId"] == "DERMS1"
