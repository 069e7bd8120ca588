"""What the simulated DACS and DERMS do with a call that got through auth and the switches.

Each handler takes the state and the :class:`Incoming` call and returns ``(status, body)``. The
answer shapes are the hub's documented assumptions (docs/sandbox.md), not Oracle's published ones.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.sandbox.state import Outcomes, Reservation, SandboxState, now_iso

#: default paths, by system and operation (the contract's "Outbound" table)
DACS_PATHS: dict[str, tuple[str, str]] = {
    "health_check": ("GET", "/rest/apis/common/healthCheck"),
    "enroll": ("POST", "/rest/apis/cross/digitalAssets/programEnrollments/enroll"),
    "device_status_response": (
        "POST", "/rest/apis/cross/digitalAssets/controllableDeviceStatus/response"),
    "create_program_event": ("POST", "/rest/apis/cross/service/programEvent/"),
    "action_program_event": ("POST", "/rest/apis/cross/service/programEvent/lifecycle"),
    "reserve_device": ("POST", "/rest/apis/cross/service/programEventParticipation/reserveDevice"),
    "post_event_outcome": (
        "POST", "/rest/apis/cross/service/programEventParticipation/postEventOutcome"),
    "sync_request_update": ("PATCH", "/rest/apis/common/sync/syncRequest/{syncRequestId}"),
}
DERMS_PATHS: dict[str, tuple[str, str]] = {
    "enroll": ("POST", "/enroll"),
    "status_check": ("POST", "/status_check"),
    "event_opt_out": ("POST", "/event-opt-out"),
    "update_program": ("POST", "/update-program"),
    "update_aggregator": ("POST", "/update-aggregator"),
    "device_score": ("POST", "/device-score"),
    "event_reservation_ack": ("POST", "/event-reservation-ack"),
    "event_outcome_ack": ("POST", "/event-outcome-ack"),
}
PATHS = {"dacs": DACS_PATHS, "derms": DERMS_PATHS}

#: the list in a body that can hold thousands of rows; the call log keeps only a summary of it
BIG_LISTS = {("dacs", "reserve_device"): "deviceList",
             ("dacs", "post_event_outcome"): "postOutcomeList"}


@dataclass
class Incoming:
    """One call to a simulated system, with its body already read."""

    system: str
    op: str
    json: Any = None
    file: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    correlation_id: str | None = None
    form: dict[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = field(default=None, repr=False)  # never logged


Answer = tuple[int, dict[str, Any]]
Handler = Callable[[SandboxState, Incoming], Answer]


def dacs_error(status: int, message: str, *, kind: str = "VAL-ERROR", number: str = "10001",
               category: str = "11011") -> Answer:
    """A DACS business error in the assumed shape."""
    return status, {"status": kind, "messageNbr": number, "messageCategory": category,
                    "message": message}


def derms_error(status: int, error: str, message: str) -> Answer:
    return status, {"error": error, "message": message}


def msg_ack(body: dict[str, Any], responses: list[dict[str, Any]] | None = None) -> Answer:
    return 200, {"messageId": body.get("messageId"), "ackType": "SUCCESS", "whenISO": now_iso(),
                 "responses": responses or []}


def _first(body: dict[str, Any], *keys: str) -> Any:
    return next((body[k] for k in keys if body.get(k) not in (None, "")), None)


# -- DACS -------------------------------------------------------------------------------------
def dacs_health_check(state: SandboxState, call: Incoming) -> Answer:
    return 200, {"status": "UP"}


def dacs_enroll(state: SandboxState, call: Incoming) -> Answer:
    body = call.json
    program = body.get("programCode")
    devices = body.get("devices")
    if not program or not isinstance(devices, list) or not devices:
        return dacs_error(422, "programCode and a non-empty devices list are required")
    nic_ids = [str(d.get("nicId")) for d in devices if isinstance(d, dict) and d.get("nicId")]
    with state.lock:  # check and add together, so parallel enrolls of one device see each other
        enrolled = state.enrolled.setdefault(program, set())
        if any(nic in enrolled for nic in nic_ids):
            return dacs_error(400, "Device already enrolled", kind="ERROR", number="10589")
        enrolled.update(nic_ids)
        enrollment_id = f"ENR-{state.next_id('enrollment')}"
        state.enrollments.append({"enrollmentId": enrollment_id, "programCode": program,
                                  "nicIds": nic_ids, "correlationId": call.correlation_id})
    return 200, {"enrollmentId": enrollment_id, "status": "PENDING"}


def dacs_device_status_response(state: SandboxState, call: Incoming) -> Answer:
    with state.lock:
        state.device_statuses.append(call.json)
    return 200, {"boStatus": "X1RECEIVED"}


def _event_key(body: dict[str, Any]) -> str:
    return str(_first(body, "eventExternalIdentifier", "externalIdentifier", "eventId") or "")


def dacs_create_program_event(state: SandboxState, call: Incoming) -> Answer:
    key = _event_key(call.json)
    with state.lock:
        event = state.program_events.get(key)
        if event is None:
            event = {"programEventId": f"PE-{state.next_id('program_event')}", "actions": []}
            state.program_events[key] = event
        event["body"] = call.json
    return 200, {"programEventId": event["programEventId"], "status": "CREATED"}


def dacs_action_program_event(state: SandboxState, call: Incoming) -> Answer:
    key = _event_key(call.json)
    action = _first(call.json, "action", "lifecycleAction", "actionFlag")
    with state.lock:
        state.program_event_actions.append(call.json)
        event = state.program_events.setdefault(
            key, {"programEventId": f"PE-{state.next_id('program_event')}", "actions": []})
        event["actions"].append(action)
    return 200, {"programEventId": event["programEventId"], "status": "ACTIONED",
                 "action": action}


def dacs_reserve_device(state: SandboxState, call: Incoming) -> Answer:
    rows = call.json.get("deviceList")
    if not isinstance(rows, list):
        return dacs_error(422, "deviceList must be a list")
    event, stage = call.json.get("eventExternalIdentifier"), call.json.get("externalIdentifier")
    ids = [r.get("recordId") if isinstance(r, dict) else None for r in rows]
    with state.lock:
        reservation = state.reservations.setdefault((event, stage), Reservation(event, stage))
        reservation.calls += 1
        reservation.record_ids.extend(ids)
    return 200, {"status": "OK", "count": len(rows)}


def dacs_post_event_outcome(state: SandboxState, call: Incoming) -> Answer:
    rows = call.json.get("postOutcomeList")
    if not isinstance(rows, list):
        return dacs_error(422, "postOutcomeList must be a list")
    event = call.json.get("eventExternalIdentifier")
    with state.lock:
        outcomes = state.outcomes.setdefault(event, Outcomes(event))
        outcomes.calls += 1
        for row in rows:
            row = row if isinstance(row, dict) else {}
            outcomes.by_outcome[str(row.get("outcome"))] += 1
            outcomes.nic_ids.append(str(row.get("nicId")))
    return 200, {"status": "OK", "count": len(rows)}


def dacs_sync_request_update(state: SandboxState, call: Incoming) -> Answer:
    sync_id = call.params.get("syncRequestId", "")
    with state.lock:
        state.sync_updates.setdefault(sync_id, []).append(call.json)
    return 200, {"syncRequestId": sync_id, "status": "UPDATED"}


# -- DERMS ------------------------------------------------------------------------------------
def derms_enroll(state: SandboxState, call: Incoming) -> Answer:
    key = str(_first(call.json, "syncRequestId", "messageId") or f"anon-{state.next_id('anon')}")
    with state.lock:
        state.derms_enrollments[key] = call.json
    return msg_ack(call.json)


def _storing(attribute: str) -> Handler:
    def handler(state: SandboxState, call: Incoming) -> Answer:
        with state.lock:
            getattr(state, attribute).append(call.json)
        return msg_ack(call.json)
    return handler


def _updating(attribute: str, kind: str, id_keys: tuple[str, ...]) -> Handler:
    """update-program / update-aggregator: one response carrying the DERMS external id.

    The same DACS id always gets the same DERMS id, as an upsert would.
    """
    def handler(state: SandboxState, call: Incoming) -> Answer:
        dacs_id = str(_first(call.json, *id_keys, "id", "syncRequestId", "messageId") or "")
        with state.lock:
            getattr(state, attribute).append(call.json)
            value = state.derms_ids.get(f"{kind}:{dacs_id}")
            if value is None:
                value = f"DERMS-{kind.upper()}-{state.next_id(kind)}"
                state.derms_ids[f"{kind}:{dacs_id}"] = value
        return msg_ack(call.json, [{"id": dacs_id, "value": value, "responseCode": "SUCCESS",
                                    "responseText": "", "responseTimeISO": now_iso(),
                                    "dacsMessageId": call.json.get("syncRequestId")}])
    return handler


def derms_device_score(state: SandboxState, call: Incoming) -> Answer:
    if call.file is None:
        return derms_error(400, "BAD_REQUEST", "multipart part 'file' is required")
    with state.lock:
        state.device_scores.append({**call.file, "correlationId": call.correlation_id,
                                    "at": now_iso()})
    return 202, {"status": "ACCEPTED", "fileName": call.file["filename"]}


def _acking(attribute: str) -> Handler:
    def handler(state: SandboxState, call: Incoming) -> Answer:
        with state.lock:
            getattr(state, attribute).append(call.json)
        return 200, {"status": "RECEIVED"}
    return handler


# -- OAuth2 ------------------------------------------------------------------------------------
def oauth_token(state: SandboxState, call: Incoming) -> Answer:
    """Client-credentials grant. The client may authenticate in the form or with HTTP Basic."""
    if call.form.get("grant_type") != "client_credentials":
        return 400, {"error": "unsupported_grant_type",
                     "message": "only grant_type=client_credentials is supported"}
    client_id = call.form.get("client_id") or (call.basic[0] if call.basic else "")
    secret = call.form.get("client_secret") or (call.basic[1] if call.basic else "")
    clients = state.auth.get("oauth_clients")
    if clients:
        expected = clients.get(client_id)
        if expected is None or not hmac.compare_digest(str(expected).encode(), secret.encode()):
            return 401, {"error": "invalid_client", "message": "unknown client or wrong secret"}
    return 200, {"access_token": state.issue_token(), "token_type": "Bearer",
                 "expires_in": state.token_ttl}


HANDLERS: dict[tuple[str, str], Handler] = {
    ("oauth", "token"): oauth_token,
    ("dacs", "health_check"): dacs_health_check,
    ("dacs", "enroll"): dacs_enroll,
    ("dacs", "device_status_response"): dacs_device_status_response,
    ("dacs", "create_program_event"): dacs_create_program_event,
    ("dacs", "action_program_event"): dacs_action_program_event,
    ("dacs", "reserve_device"): dacs_reserve_device,
    ("dacs", "post_event_outcome"): dacs_post_event_outcome,
    ("dacs", "sync_request_update"): dacs_sync_request_update,
    ("derms", "enroll"): derms_enroll,
    ("derms", "status_check"): _storing("status_checks"),
    ("derms", "event_opt_out"): _storing("opt_outs"),
    ("derms", "update_program"): _updating("program_updates", "program",
                                           ("programCode", "programId", "code")),
    ("derms", "update_aggregator"): _updating("aggregator_updates", "aggregator",
                                              ("aggregatorCode", "aggregatorId", "code")),
    ("derms", "device_score"): derms_device_score,
    ("derms", "event_reservation_ack"): _acking("reservation_acks"),
    ("derms", "event_outcome_ack"): _acking("outcome_acks"),
}

#: ops whose body is not a JSON object
NO_JSON_BODY = {("dacs", "health_check"), ("derms", "device_score"), ("oauth", "token")}


def handle(state: SandboxState, call: Incoming) -> Answer:
    """Validate the body is a JSON object where one is expected, then run the op's handler."""
    if (call.system, call.op) not in NO_JSON_BODY and not isinstance(call.json, dict):
        if call.system == "dacs":
            return dacs_error(422, "the body must be a JSON object")
        return derms_error(400, "BAD_REQUEST", "the body must be a JSON object")
    return HANDLERS[(call.system, call.op)](state, call)


def log_body(system: str, op: str, body: Any) -> Any:
    """The body as the call log keeps it: big row lists become a count and the first/last ids."""
    key = BIG_LISTS.get((system, op))
    if key is None or not isinstance(body, dict) or not isinstance(body.get(key), list):
        return body
    rows = body[key]

    def row_id(row: Any) -> Any:
        return _first(row, "recordId", "nicId") if isinstance(row, dict) else None

    return {**body, key: {"count": len(rows), "firstRecordId": row_id(rows[0]) if rows else None,
                          "lastRecordId": row_id(rows[-1]) if rows else None}}
