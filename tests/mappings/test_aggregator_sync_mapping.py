from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from mappings.aggregator_sync import (
    AggregatorSyncSchema,
    ack_to_dacs,
    answer,
    message_id,
    to_derms,
)


def aggregator_sync(**changes: Any) -> dict[str, Any]:
    """The aggregator sync body this hub defines (docs/flows.md)."""
    body = {"sendDetails": {"syncRequestId": "S-91"},
            "aggregatorInfo": {"aggregatorId": "AG1", "aggregatorCode": "ECOBEE",
                               "name": "ecobee Inc.", "status": "ACTIVE",
                               "headEndSystem": "ECOBEE", "contactName": "Grid team",
                               "contactEmail": "grid@ecobee.example",
                               "contactPhone": "+1 555 0100"},
            "programs": [{"programCode": "BYOT", "startDateTime": "2026-01-01T00:00:00.000Z",
                          "endDateTime": None}]}
    body.update(changes)
    return body


def test_aggregator_maps_field_by_field() -> None:
    message = AggregatorSyncSchema().load(aggregator_sync())
    assert message_id(message) == "S-91"
    assert to_derms(message) == {
        "messageId": "S-91", "syncRequestId": "S-91", "aggregatorId": "AG1",
        "aggregatorCode": "ECOBEE", "name": "ecobee Inc.", "status": "ACTIVE",
        "headEndSystem": "ECOBEE",
        "contact": {"name": "Grid team", "email": "grid@ecobee.example",
                    "phone": "+1 555 0100"},
        "programs": [{"programCode": "BYOT", "startDateTimeISO": "2026-01-01T00:00:00.000Z",
                      "endDateTimeISO": None}]}
    assert answer(message) == {"syncRequestId": "S-91", "status": "SENT"}


def test_a_minimal_aggregator() -> None:
    message = AggregatorSyncSchema().load({"sendDetails": {"syncRequestId": "S-92"},
                                           "aggregatorInfo": {"aggregatorCode": "NEST"}})
    body = to_derms(message)
    assert body["programs"] == [] and body["contact"] == {"name": None, "email": None,
                                                          "phone": None}


def test_derms_answer_becomes_the_sync_request_update() -> None:
    derms = {"ackType": "SUCCESS", "responses": [
        {"id": "ECOBEE", "value": "DERMS-AGGREGATOR-3", "responseCode": "SUCCESS"}]}
    assert ack_to_dacs("S-91", derms)["externalIds"] == {"ECOBEE": "DERMS-AGGREGATOR-3"}


@pytest.mark.parametrize("change,field", [
    ({"sendDetails": {}}, "sendDetails"),
    ({"aggregatorInfo": {"name": "x"}}, "aggregatorInfo"),
    ({"programs": [{}]}, "programs"),
    ({"aggregator": {}}, "aggregator"),
])
def test_bad_syncs_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AggregatorSyncSchema().load(aggregator_sync(**change))
    assert field in caught.value.messages
