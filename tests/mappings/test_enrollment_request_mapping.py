from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError

from mappings import lookups
from mappings.base import ack_type
from mappings.enrollment_request import (
    EnrollmentRequestSchema,
    answer,
    business_error_response,
    dacs_business_error,
    failure_response,
    message_id,
    success_response,
    to_dacs,
    unmapped_response,
)
from support import example


def load(raw: dict[str, Any] | None = None) -> dict[str, Any]:
    return EnrollmentRequestSchema().load(raw or example("enrollment-request.json"))


def test_contract_example_maps_field_by_field() -> None:
    message = load()
    assert message_id(message) == "M-1001"
    assert to_dacs(message, message["enrollments"][0]) == {
        "enrollmentRequestId": "E-1", "messageId": "M-1001", "drmsInstanceId": "DERMS1",
        "programCode": "BYOT", "cisServiceAgreementId": "SA1",
        "startDateTime": "2026-12-01T00:00:00.000Z",
        "enrollmentStatus": "PENDING",          # _EnrollmentStatus: PENDING (the default)
        "installationMethod": "X1BD",           # _InstallationMethod: BYOD -> X1BD
        "assetOwnership": "X1CU",               # _AssetOwnership: CUSTOMER -> X1CU
        "customer": {"cisPersonId": "P1", "cisAccountId": "A1", "name": "Pat Lee",
                     "email": "pat@example.com"},
        "location": {"cisPremiseId": "PR1", "cisServicePointId": "SP1",
                     "timeZone": "America/Chicago", "address1": "1 Main St", "address2": None,
                     "city": "Austin", "state": "TX", "postal": "78701", "country": "USA"},
        "devices": [{"sequence": 1, "assetId": "T-9", "deviceType": "THERMOSTAT",
                     "specification": "ecobee!SmartThermostat", "make": "ecobee",
                     "model": "SmartThermostat", "serialNumber": "SN9", "nicId": "NIC9",
                     "headEndSystem": "ECOBEE"}],
    }


def test_second_example_enrollment_has_no_address_and_another_make() -> None:
    message = load()
    body = to_dacs(message, message["enrollments"][1])
    assert body["enrollmentRequestId"] == "E-2"
    assert body["customer"] == {"cisPersonId": "P2", "cisAccountId": "A2", "name": "Sam Roe",
                                "email": None}
    assert body["location"]["address1"] is None
    assert body["location"]["timeZone"] == "America/Chicago"
    assert body["devices"][0]["specification"] == "google!NestE"
    assert body["devices"][0]["nicId"] == "NIC10" and body["devices"][0]["headEndSystem"] == "NEST"


def test_requested_status_maps_through_the_enrollment_status_lookup() -> None:
    raw = example("enrollment-request.json")
    raw["enrollments"][0]["programInfo"]["enrollmentStatus"] = "REQUESTED"
    message = load(raw)
    assert to_dacs(message, message["enrollments"][0])["enrollmentStatus"] == "PENDING"


@pytest.mark.parametrize("section,field,value,lookup", [
    ("assetList", "assetType", "HOT_TUB", "AssetType"),
    ("assetList", "model", "Unknown9", "AssetSpec"),
    ("assetInfo", "installationMethod", "SELF", "InstallationMethod"),
    ("assetInfo", "assetOwnership", "NEIGHBOUR", "AssetOwnership"),
])
def test_a_value_without_a_lookup_row_is_that_enrollments_error(
        section: str, field: str, value: str, lookup: str) -> None:
    raw = example("enrollment-request.json")
    target = raw["enrollments"][0]["assetInfo"]
    if section == "assetList":
        target = target["assetList"][0]
    target[field] = value
    message = load(raw)
    with pytest.raises(lookups.UnmappedValue) as caught:
        to_dacs(message, message["enrollments"][0])
    assert caught.value.lookup == lookup
    response = unmapped_response("E-1", caught.value)
    assert response["responseCode"] == "ERROR" and f"_{lookup}" in response["responseText"]


def test_no_make_and_model_sends_no_specification() -> None:
    raw = example("enrollment-request.json")
    del raw["enrollments"][0]["assetInfo"]["assetList"][0]["make"]
    del raw["enrollments"][0]["assetInfo"]["assetList"][0]["model"]
    message = load(raw)
    assert to_dacs(message, message["enrollments"][0])["devices"][0]["specification"] is None


def test_site_lookups_replace_the_packaged_ones(tmp_path: Path) -> None:
    (tmp_path / "OUTL-BRT-DACS_DRMS_AssetType.csv").write_text(
        "DVM,OUTL-BRT-DACS_DRMS_AssetType\nDERMS,DACS\nTHERMOSTAT,X1-TSTAT\n")
    (tmp_path / "InstallationMethod.csv").write_text("DERMS,DACS\nbyod,SITE-BYOD\n")
    tables = lookups.Lookups(tmp_path)
    message = load()
    body = to_dacs(message, message["enrollments"][0], tables)
    assert body["devices"][0]["deviceType"] == "X1-TSTAT"
    assert body["installationMethod"] == "SITE-BYOD"   # keys match case-insensitively
    assert body["assetOwnership"] == "X1CU"            # not overridden: the packaged lookup


# -- responses and the overall ackType --------------------------------------------------------
def test_success_carries_the_enrollment_id() -> None:
    response = success_response("E-1", {"enrollmentId": "ENR-7", "status": "PENDING"})
    assert response["id"] == "E-1" and response["value"] == "ENR-7"
    assert response["responseCode"] == "SUCCESS" and response["responseText"] == ""
    assert response["responseTimeISO"].endswith("Z")


def test_business_error_carries_the_dacs_message() -> None:
    business = dacs_business_error({"status": "VAL-ERROR", "messageNbr": "10001",
                                    "messageCategory": "11011", "message": "bad program"})
    assert business == ("10001", "bad program")
    response = business_error_response("E-2", *business)
    assert (response["responseCode"], response["responseText"], response["value"]) == \
        ("ERROR", "bad program", "")


def test_already_enrolled_10589_counts_as_success() -> None:
    business = dacs_business_error({"status": "ERROR", "messageNbr": "10589",
                                    "message": "Device already enrolled"})
    response = business_error_response("E-1", *business)
    assert response["responseCode"] == "SUCCESS"
    assert response["responseText"] == "Device already enrolled"


@pytest.mark.parametrize("body", [None, {"error": "Unauthorized"}, {"status": "UP"}, "text"])
def test_other_refusals_are_not_business_errors(body: Any) -> None:
    assert dacs_business_error(body) is None


@pytest.mark.parametrize("codes,expected", [
    (["SUCCESS", "SUCCESS"], "SUCCESS"),
    (["SUCCESS", "ERROR"], "ERROR"),
    (["FAILURE", "ERROR", "SUCCESS"], "ERROR"),
    (["SUCCESS", "FAILURE"], "FAILURE"),
])
def test_overall_ack_type(codes: list[str], expected: str) -> None:
    responses = [failure_response(f"E-{i}", "x") | {"responseCode": code}
                 for i, code in enumerate(codes)]
    ack = answer(load(), responses)
    assert ack["ackType"] == expected == ack_type(codes)
    assert ack["messageId"] == "M-1001" and ack["responses"] == responses


# -- the inbound schema ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    ("messageId",), ("drmsInstanceId",), ("enrollments",),
    ("enrollments", 0, "enrollmentRequestId"), ("enrollments", 0, "programInfo", "programCode"),
    ("enrollments", 0, "locationInfo", "cisServicePointId"),
    ("enrollments", 0, "assetInfo", "assetList", 0, "nicId"),
    ("enrollments", 0, "assetInfo", "assetList", 0, "assetType"),
])
def test_required_fields(path: tuple[Any, ...]) -> None:
    raw = example("enrollment-request.json")
    node = raw
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(ValidationError):
        load(raw)


def test_unknown_drms_instance_is_refused_naming_the_field() -> None:
    raw = example("enrollment-request.json")
    raw["drmsInstanceId"] = "DERMS9"
    with pytest.raises(ValidationError) as caught:
        load(raw)
    assert "_Routing" in caught.value.messages["drmsInstanceId"][0]


def test_duplicate_enrollment_request_ids_are_refused() -> None:
    raw = example("enrollment-request.json")
    raw["enrollments"][1]["enrollmentRequestId"] = "E-1"
    with pytest.raises(ValidationError) as caught:
        load(raw)
    assert "enrollments.1.enrollmentRequestId" in caught.value.messages


def test_empty_enrollments_and_unknown_fields_are_refused() -> None:
    raw = example("enrollment-request.json")
    raw["enrollments"] = []
    with pytest.raises(ValidationError):
        load(raw)
    raw = example("enrollment-request.json")
    raw["enrollments"][0]["customerInfo"]["ssn"] = "123"
    with pytest.raises(ValidationError) as caught:
        load(raw)
    assert "ssn" in str(caught.value.messages)
