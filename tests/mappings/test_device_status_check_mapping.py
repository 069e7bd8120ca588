from __future__ import annotations

import pytest
from marshmallow import ValidationError

from mappings.device_status_check import DeviceStatusCheckSchema, answer, message_id, to_derms
from support import example


def test_contract_example_maps_field_by_field() -> None:
    message = DeviceStatusCheckSchema().load(example("device-status-check.json"))
    assert message_id(message) == "COMM-5"
    assert to_derms(message) == {
        "messageId": "COMM-5", "communicationId": "COMM-5",
        "device": {"nicId": "NIC9", "headEndSystem": "ECOBEE", "deviceType": "THERMOSTAT",
                   "specification": "ecobee!SmartThermostat", "division": "TX"}}
    assert answer(message) == {"communicationId": "COMM-5", "status": "SENT"}


def test_optional_device_fields_may_be_left_out() -> None:
    raw = example("device-status-check.json")
    raw["deviceInfo"] = {"nicid": "NIC1", "headEndSystem": "NEST"}
    body = to_derms(DeviceStatusCheckSchema().load(raw))
    assert body["device"] == {"nicId": "NIC1", "headEndSystem": "NEST", "deviceType": None,
                              "specification": None, "division": None}


@pytest.mark.parametrize("section,field", [("sendDetails", "communicationId"),
                                           ("deviceInfo", "nicid"),
                                           ("deviceInfo", "headEndSystem")])
def test_required_fields(section: str, field: str) -> None:
    raw = example("device-status-check.json")
    del raw[section][field]
    with pytest.raises(ValidationError) as caught:
        DeviceStatusCheckSchema().load(raw)
    assert field in caught.value.messages[section]


def test_nic_id_spelled_the_derms_way_is_an_unknown_field() -> None:
    raw = example("device-status-check.json")
    raw["deviceInfo"]["nicId"] = raw["deviceInfo"].pop("nicid")
    with pytest.raises(ValidationError):
        DeviceStatusCheckSchema().load(raw)
