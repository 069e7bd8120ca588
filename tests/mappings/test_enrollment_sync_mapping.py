from __future__ import annotations

import pytest
from marshmallow import ValidationError

from mappings.enrollment_sync import EnrollmentSyncSchema, answer, message_id, to_derms
from support import example


def test_contract_example_maps_field_by_field() -> None:
    message = EnrollmentSyncSchema().load(example("enrollment-sync.json"))
    body = to_derms(message)
    assert body == {
        "messageId": "S-77", "syncRequestId": "S-77", "enrollmentType": "ENROLL", "status": "ACTIVE",
        "customer": {"contactId": "C1", "cisPersonId": "P1", "cisAccountId": "A1"},
        "program": {"programId": "PG1", "programCode": "BYOT", "subscriptionId": "SUB1",
                    "startDateTimeISO": "2026-12-01T00:00:00.000Z", "endDateTimeISO": None},
        "location": {"division": "TX", "servicePointId": "SP1", "cisPremiseId": "PR1",
                     "cisServicePointId": "SP1"},
        "devices": [{"nicId": "NIC9", "headEndSystem": "ECOBEE", "deviceType": "THERMOSTAT",
                     "specification": None}],
    }
    assert message_id(message) == "S-77"
    assert answer(message) == {"externalId": "S-77"}


def test_no_devices_is_allowed_for_an_unenroll() -> None:
    raw = example("enrollment-sync.json")
    raw["subscriptionInfo"]["subscriptionType"] = "UNENROLL"
    del raw["locationInfo"]["controllableDevices"]
    body = to_derms(EnrollmentSyncSchema().load(raw))
    assert body["devices"] == [] and body["enrollmentType"] == "UNENROLL"


@pytest.mark.parametrize("path", [("sendDetails", "syncRequestId"), ("subscriptionInfo", "programCode"),
                                  ("locationInfo", "controllableDevices", 0, "nicId")])
def test_required_fields(path: tuple) -> None:
    raw = example("enrollment-sync.json")
    node = raw
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(ValidationError):
        EnrollmentSyncSchema().load(raw)


def test_empty_sync_request_id_is_refused() -> None:
    raw = example("enrollment-sync.json")
    raw["sendDetails"]["syncRequestId"] = ""
    with pytest.raises(ValidationError) as caught:
        EnrollmentSyncSchema().load(raw)
    assert "syncRequestId" in caught.value.messages["sendDetails"]
