from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from mappings.program_rule_sync import (
    ProgramRuleSyncSchema,
    ack_to_dacs,
    answer,
    message_id,
    to_derms,
)


def rule_sync(**changes: Any) -> dict[str, Any]:
    """The program rule sync body this hub defines (docs/flows.md)."""
    body = {"sendDetails": {"syncRequestId": "S-90"},
            "programInfo": {"programId": "PG1", "programCode": "BYOT",
                            "description": "Bring your own thermostat", "programType": "DR",
                            "status": "ACTIVE", "startDateTime": "2026-01-01T00:00:00.000Z",
                            "endDateTime": None},
            "programRules": [{"ruleId": "R1", "ruleType": "MAX_EVENTS_PER_MONTH",
                              "ruleValue": "4", "unit": "EVENTS",
                              "description": "At most 4 events a month",
                              "startDateTime": "2026-01-01T00:00:00.000Z",
                              "endDateTime": None}]}
    body.update(changes)
    return body


def test_program_and_rules_map_field_by_field() -> None:
    message = ProgramRuleSyncSchema().load(rule_sync())
    assert message_id(message) == "S-90"
    assert to_derms(message) == {
        "messageId": "S-90", "syncRequestId": "S-90", "programId": "PG1",
        "programCode": "BYOT", "description": "Bring your own thermostat", "programType": "DR",
        "status": "ACTIVE", "startDateTimeISO": "2026-01-01T00:00:00.000Z",
        "endDateTimeISO": None,
        "rules": [{"ruleId": "R1", "ruleType": "MAX_EVENTS_PER_MONTH", "value": "4",
                   "unit": "EVENTS", "description": "At most 4 events a month",
                   "startDateTimeISO": "2026-01-01T00:00:00.000Z", "endDateTimeISO": None}]}
    assert answer(message) == {"syncRequestId": "S-90", "status": "SENT"}


def test_a_program_without_rules_is_allowed() -> None:
    raw = rule_sync()
    del raw["programRules"]
    assert to_derms(ProgramRuleSyncSchema().load(raw))["rules"] == []


def test_derms_success_gives_the_external_ids() -> None:
    derms = {"messageId": "S-90", "ackType": "SUCCESS", "whenISO": "2026-12-04T10:00:00.000Z",
             "responses": [{"id": "BYOT", "value": "DERMS-PROGRAM-1", "responseCode": "SUCCESS",
                            "responseText": "", "dacsMessageId": "S-90"}]}
    assert ack_to_dacs("S-90", derms) == {"syncRequestId": "S-90", "hasError": False,
                                          "exceptionInfo": [],
                                          "externalIds": {"BYOT": "DERMS-PROGRAM-1"}}


def test_derms_negative_ack_gives_has_error() -> None:
    derms = {"ackType": "ERROR", "responses": [
        {"id": "BYOT", "value": None, "responseCode": "ERROR", "responseText": "rule R1 invalid"}]}
    assert ack_to_dacs("S-90", derms) == {
        "syncRequestId": "S-90", "hasError": True,
        "exceptionInfo": [{"id": "BYOT", "code": "ERROR", "message": "rule R1 invalid"}],
        "externalIds": {}}


@pytest.mark.parametrize("derms", [{}, None, "OK", {"responses": "x"}])
def test_a_200_without_a_msg_ack_counts_as_taken(derms: Any) -> None:
    assert ack_to_dacs("S-90", derms) == {"syncRequestId": "S-90", "hasError": False,
                                          "exceptionInfo": [], "externalIds": {}}


@pytest.mark.parametrize("change,field", [
    ({"sendDetails": {"syncRequestId": ""}}, "sendDetails"),
    ({"programInfo": {"programId": "PG1"}}, "programInfo"),
    ({"programRules": [{"ruleId": "R1"}]}, "programRules"),
    ({"rules": []}, "rules"),
])
def test_bad_syncs_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ProgramRuleSyncSchema().load(rule_sync(**change))
    assert field in caught.value.messages
