"""The file flows' mappings: rows to DACS bodies, outcome codes, row errors, the acks."""

from __future__ import annotations

import pytest
from support import example

from mappings import event_device_outcome as outcome
from mappings import event_device_reservation as reservation
from mappings.csvfiles import Row, RowError


def test_a_reservation_row_becomes_a_device_and_a_segment_one_call() -> None:
    device = reservation.to_device(Row(3, {"recordId": "3", "nicId": "NIC11",
                                           "headEndSystem": "ECOBEE"}))
    assert device == {"recordId": "3", "nicId": "NIC11", "headEndSystem": "ECOBEE"}
    ctx = reservation.context(example("program-event-stage.json"))
    bodies = list(reservation.reserve_bodies(ctx, [device, device]))
    assert bodies == [("EV-1", {"eventExternalIdentifier": "EV-1", "externalIdentifier": "EV-1-S1",
                                "deviceList": [device, device]})]
    assert list(reservation.reserve_bodies(ctx, [])) == []


@pytest.mark.parametrize(("values", "problem"), [
    ({"recordId": "1", "nicId": "", "headEndSystem": "H"}, "nicId is empty"),
    ({"recordId": "", "nicId": "N", "headEndSystem": "H"}, "recordId is empty"),
    ({"recordId": "1", "nicId": "N" * 129, "headEndSystem": "H"}, "longer than 128"),
    ({"recordId": "1", "nicId": "N\ufffd", "headEndSystem": "H"}, "not valid UTF-8"),
])
def test_an_unusable_reservation_row_is_a_row_error_naming_it(values: dict[str, str],
                                                               problem: str) -> None:
    with pytest.raises(RowError, match=problem) as caught:
        reservation.to_device(Row(17, values))
    assert caught.value.as_dict()["row"] == 17
    assert caught.value.as_dict()["recordId"] == (values["recordId"] or None)


def test_the_reservation_ack_is_a_msg_ack_with_event_and_stage() -> None:
    ack = reservation.ack(example("program-event-stage.json"), "FAILURE",
                          [{"id": "x", "responseCode": "FAILURE"}])
    assert ack["messageId"] == "M-2001" and ack["ackType"] == "FAILURE"
    assert ack["eventId"] == "EV-1" and ack["stageId"] == "EV-1-S1" and ack["whenISO"]


@pytest.mark.parametrize(("given", "code"), [("SUCCESS", "D1SP"), ("ERROR", "D1ER"),
                                             ("NON_RESPONSIVE", "D1ND"), ("OVERRIDE", "D1IO"),
                                             ("CANCELLED", "D1CN"), ("success", "D1SP")])
def test_outcome_codes(given: str, code: str) -> None:
    item = outcome.to_outcome(Row(1, {"recordId": "1", "eventId": "EV-1", "nicId": "N",
                                      "headEndSystem": "H", "outcome": given,
                                      "participationStartDateTimeISO": "2026-12-05T20:00:00.000Z",
                                      "participationEndDateTimeISO": "",
                                      "errorMessage": "late"}))
    assert item == {"eventId": "EV-1", "nicId": "N", "headEndSystem": "H", "outcome": code,
                    "participationStartDateTime": "2026-12-05T20:00:00.000Z",
                    "participationEndDateTime": None, "errorMessage": "late"}


@pytest.mark.parametrize(("change", "problem"), [
    ({"outcome": "MAYBE"}, "outcome 'MAYBE' is not one of"),
    ({"nicId": ""}, "nicId is empty"),
    ({"eventId": ""}, "eventId is empty"),
    ({"participationStartDateTimeISO": "yesterday"}, "not an ISO 8601"),
])
def test_a_bad_outcome_row_is_a_row_error(change: dict[str, str], problem: str) -> None:
    values = {"recordId": "9", "eventId": "EV-1", "nicId": "N", "headEndSystem": "H",
              "outcome": "SUCCESS", "participationStartDateTimeISO": "",
              "participationEndDateTimeISO": "", **change}
    with pytest.raises(RowError, match=problem):
        outcome.to_outcome(Row(9, values))


def test_outcome_calls_carry_one_event_each_in_order_of_appearance() -> None:
    items = [{"eventId": ev, "nicId": f"N{i}", "outcome": "D1SP"}
             for i, ev in enumerate(["EV-2", "EV-1", "EV-2", "EV-3"])]
    bodies = list(outcome.outcome_bodies({}, items))
    assert [label for label, _ in bodies] == ["EV-2", "EV-1", "EV-3"]
    assert bodies[0][1] == {"eventExternalIdentifier": "EV-2", "postOutcomeList": [
        {"nicId": "N0", "outcome": "D1SP"}, {"nicId": "N2", "outcome": "D1SP"}]}
    assert items[0]["eventId"] == "EV-2"  # the input is not changed


def test_message_schemas_refuse_unknown_fields_and_need_ids() -> None:
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as caught:
        reservation.StageMessageSchema().load({"messageId": "M", "eventId": "E", "extra": 1})
    assert set(caught.value.messages) == {"stageId", "extra"}
    assert outcome.OutcomeMessageSchema().load({"messageId": "M"}) == {"messageId": "M"}
