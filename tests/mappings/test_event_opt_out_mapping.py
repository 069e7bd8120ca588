from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from mappings.event_opt_out import (
    EventOptOutSchema,
    answer,
    message_id,
    negative_ack_text,
    to_derms,
)


def opt_out(**changes: Any) -> dict[str, Any]:
    """The opt-out body this hub defines (docs/flows.md), for the contract's event EV-1."""
    body = {"sendDetails": {"communicationId": "OPT-1"},
            "eventInfo": {"programEventId": "PE-1", "eventExternalIdentifier": "EV-1",
                          "externalIdentifier": "EV-1-S1", "programCode": "BYOT"},
            "preemptiveOptOut": True, "optOutDateTime": "2026-12-05T12:00:00.000Z",
            "reason": "Customer called", "cisServicePointId": "SP1",
            "controllableDevices": [{"nicId": "NIC9", "headEndSystem": "ECOBEE",
                                     "deviceType": "THERMOSTAT",
                                     "specification": "ecobee!SmartThermostat"}]}
    body.update(changes)
    return body


def test_opt_out_maps_field_by_field() -> None:
    message = EventOptOutSchema().load(opt_out())
    assert message_id(message) == "OPT-1"
    assert to_derms(message) == {
        "messageId": "OPT-1", "communicationId": "OPT-1", "eventId": "EV-1",
        "stageId": "EV-1-S1", "programEventId": "PE-1", "programCode": "BYOT", "optOut": True,
        "optOutDateTimeISO": "2026-12-05T12:00:00.000Z", "reason": "Customer called",
        "servicePointId": "SP1",
        "devices": [{"nicId": "NIC9", "headEndSystem": "ECOBEE", "deviceType": "THERMOSTAT",
                     "specification": "ecobee!SmartThermostat"}]}


def test_minimal_opt_out() -> None:
    message = EventOptOutSchema().load({
        "sendDetails": {"communicationId": "OPT-2"},
        "eventInfo": {"eventExternalIdentifier": "EV-2"},
        "controllableDevices": [{"nicId": "N1", "headEndSystem": "NEST"}]})
    body = to_derms(message)
    assert body["optOut"] is True and body["stageId"] is None and body["reason"] is None
    assert body["devices"] == [{"nicId": "N1", "headEndSystem": "NEST", "deviceType": None,
                                "specification": None}]


def test_only_a_success_ack_is_success() -> None:
    assert negative_ack_text({"messageId": "OPT-1", "ackType": "SUCCESS", "responses": []}) is None
    assert negative_ack_text({"ackType": "FAILURE", "responses": [
        {"responseText": "device not in event"}, {"responseText": ""}]}) == \
        "acknowledged FAILURE: device not in event"
    assert negative_ack_text({"ackType": "ERROR"}) == "acknowledged ERROR"
    assert negative_ack_text({}) == "acknowledged without an ackType"
    assert negative_ack_text("OK") == "no MsgAck in the answer"


def test_answer() -> None:
    message = EventOptOutSchema().load(opt_out())
    assert answer(message, {"ackType": "SUCCESS"}) == {"communicationId": "OPT-1",
                                                       "ackType": "SUCCESS"}


@pytest.mark.parametrize("change,field", [
    ({"controllableDevices": []}, "controllableDevices"),
    ({"sendDetails": {}}, "sendDetails"),
    ({"eventInfo": {"programCode": "BYOT"}}, "eventInfo"),
    ({"preemptiveOptOut": "perhaps"}, "preemptiveOptOut"),
    ({"customer": "x"}, "customer"),
])
def test_bad_opt_outs_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EventOptOutSchema().load(opt_out(**change))
    assert field in caught.value.messages
