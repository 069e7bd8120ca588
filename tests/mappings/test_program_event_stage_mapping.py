from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError

from mappings import lookups
from mappings.program_event_stage import (
    ProgramEventStageSchema,
    message_id,
    negative,
    operation,
    success,
    to_dacs,
)
from support import example


def load(**changes: Any) -> dict[str, Any]:
    raw = example("program-event-stage.json")
    raw.update(changes)
    return ProgramEventStageSchema().load(raw)


def test_contract_example_creates_the_program_event_field_by_field() -> None:
    message = load()
    assert message_id(message) == "M-2001"
    assert operation(message) == "create_program_event"
    assert to_dacs(message) == {
        "eventExternalIdentifier": "EV-1", "externalIdentifier": "EV-1-S1",
        "programCode": "BYOT", "eventType": "X1EC",
        "startDateTime": "2026-12-05T20:00:00.000Z", "endDateTime": "2026-12-05T22:00:00.000Z",
        "drmsInstanceId": "DERMS1"}


@pytest.mark.parametrize("status,action", [("IN_PROGRESS", "X1IP"), ("COMPLETED", "F1CO"),
                                           ("CANCELLED", "F1CN")])
def test_other_statuses_action_the_program_event(status: str, action: str) -> None:
    message = load(stageStatus=status, cancelReason="storm" if status == "CANCELLED" else None)
    assert operation(message) == "action_program_event"
    body = to_dacs(message)
    assert body["action"] == action
    assert body["cancelReason"] == ("storm" if status == "CANCELLED" else None)
    assert body["eventExternalIdentifier"] == "EV-1" and body["externalIdentifier"] == "EV-1-S1"


@pytest.mark.parametrize("event_type,code", [("ECONOMIC", "X1EC"), ("EMERGENCY", "X1EM"),
                                             ("RELIABILITY", "X1RE"), ("DEVICE_TEST", "X1DT")])
def test_event_type_lookup(event_type: str, code: str) -> None:
    assert to_dacs(load(eventType=event_type))["eventType"] == code


def test_a_site_event_type_lookup_is_used(tmp_path: Path) -> None:
    (tmp_path / "EventType.csv").write_text("DERMS,DACS\nECONOMIC,CM-ECON\n")
    assert to_dacs(load(), lookups.Lookups(tmp_path))["eventType"] == "CM-ECON"


def test_success_and_negative_acks() -> None:
    message = load()
    ok = success(message, {"programEventId": "PE-4", "status": "CREATED"})
    assert ok["messageId"] == "M-2001" and ok["ackType"] == "SUCCESS"
    assert ok["responses"][0] | {"responseTimeISO": None} == {
        "id": "EV-1-S1", "value": "PE-4", "responseCode": "SUCCESS", "responseText": "",
        "responseTimeISO": None}
    for code in ("ERROR", "FAILURE"):
        bad = negative(message, code, "event overlaps")
        assert bad["ackType"] == code
        assert (bad["responses"][0]["responseCode"], bad["responses"][0]["responseText"]) == \
            (code, "event overlaps")


@pytest.mark.parametrize("change,field", [
    ({"stageStatus": "DRAFT"}, "stageStatus"),
    ({"eventType": "PEAK"}, "eventType"),
    ({"drmsInstanceId": "DERMS2"}, "drmsInstanceId"),
    ({"eventId": ""}, "eventId"),
    ({"priority": 1}, "priority"),
])
def test_bad_stages_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load(**change)
    assert field in caught.value.messages


def test_required_fields() -> None:
    for field in ("messageId", "stageId", "programCode", "startDateTimeISO", "endDateTimeISO"):
        raw = example("program-event-stage.json")
        del raw[field]
        with pytest.raises(ValidationError) as caught:
            ProgramEventStageSchema().load(raw)
        assert field in caught.value.messages
