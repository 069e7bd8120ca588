"""Enrollment Request (DERMS -> DACS): one DERMS message, one DACS enroll call per enrollment.

The DACS enroll body (the hub's documented assumption; see docs/flows.md) carries the enrollment
under DACS's names, with ``assetType``, make/model, ``installationMethod``, ``assetOwnership`` and
``enrollmentStatus`` mapped through the lookups in ``mappings/lookups/``. Each DACS outcome becomes
one MsgAck response, and the overall ackType follows the contract.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from mappings import lookups as lookup_tables
from mappings.base import OPTIONAL, Id, InboundSchema, OptText, msg_ack, now_iso

FLOW = "enrollment_request"

#: DACS message number of "already enrolled": the enrollment exists, which is what DERMS wanted
ALREADY_ENROLLED = "10589"
#: the enrollment status asked of DACS when DERMS names none (the guide: created PENDING)
DEFAULT_STATUS = "PENDING"
#: most enrollments in one message; each is one DACS call
MAX_ENROLLMENTS = 500


def known_instance(value: str) -> None:
    """A drmsInstanceId must have a row in the _Routing lookup (else nothing can be routed)."""
    if not lookup_tables.current().knows_instance(value):
        raise ValidationError(f"unknown DERMS instance {value!r}: no row in lookup _Routing")


def DrmsInstanceId(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field type
    """A drmsInstanceId, checked against the _Routing lookup."""
    return fields.String(validate=[validate.Length(min=1, max=64), known_instance], **kwargs)


class EnrollmentCustomerSchema(InboundSchema):
    cisPersonId = Id()
    cisAccountId = Id()
    name = OptText()
    email = OptText(254)


class EnrollmentProgramSchema(InboundSchema):
    programCode = Id()
    cisServiceAgreementId = OptText()
    startDateTimeISO = fields.String(required=True, validate=validate.Length(min=1, max=40))
    #: the hub's addition: the status DERMS asks for, mapped by _EnrollmentStatus (default PENDING)
    enrollmentStatus = fields.String(load_default=DEFAULT_STATUS, validate=validate.Length(min=1, max=32))


class EnrollmentLocationSchema(InboundSchema):
    cisPremiseId = OptText()
    cisServicePointId = Id()
    timeZone = OptText()
    address1 = OptText()
    address2 = OptText()
    city = OptText()
    state = OptText()
    postal = OptText()
    country = OptText()


class EnrollmentAssetSchema(InboundSchema):
    sequence = fields.Integer(**OPTIONAL, strict=True)
    assetId = OptText()
    assetType = Id(max=64)
    make = OptText()
    model = OptText()
    serialNo = OptText()
    nicId = Id()
    headEndSystem = Id(max=64)


class EnrollmentAssetInfoSchema(InboundSchema):
    installationMethod = Id(max=64)
    assetOwnership = Id(max=64)
    assetList = fields.List(fields.Nested(EnrollmentAssetSchema), required=True,
                            validate=validate.Length(min=1, max=100))


class EnrollmentSchema(InboundSchema):
    enrollmentRequestId = Id()
    customerInfo = fields.Nested(EnrollmentCustomerSchema, required=True)
    programInfo = fields.Nested(EnrollmentProgramSchema, required=True)
    locationInfo = fields.Nested(EnrollmentLocationSchema, required=True)
    assetInfo = fields.Nested(EnrollmentAssetInfoSchema, required=True)


class EnrollmentRequestSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/derms/enrollment-requests``."""

    messageId = Id(max=256)
    drmsInstanceId = DrmsInstanceId(required=True)
    enrollments = fields.List(fields.Nested(EnrollmentSchema), required=True,
                              validate=validate.Length(min=1, max=MAX_ENROLLMENTS))

    @validates_schema
    def _unique_request_ids(self, data: dict[str, Any], **_: Any) -> None:
        # Each response is keyed by enrollmentRequestId: two alike could not be told apart.
        seen: set[str] = set()
        for index, enrollment in enumerate(data.get("enrollments") or []):
            key = enrollment["enrollmentRequestId"]
            if key in seen:
                raise ValidationError(f"enrollmentRequestId {key!r} is given twice",
                                      f"enrollments.{index}.enrollmentRequestId")
            seen.add(key)


def message_id(message: dict[str, Any]) -> str:
    return message["messageId"]


def specification(asset: dict[str, Any]) -> str | None:
    """``make!model``, the key of the _AssetSpec lookup (None when neither is given)."""
    if not asset.get("make") and not asset.get("model"):
        return None
    return f"{asset.get('make') or ''}!{asset.get('model') or ''}"


def to_dacs(message: dict[str, Any], enrollment: dict[str, Any],
            tables: lookup_tables.Lookups | None = None) -> dict[str, Any]:
    """One enrollment -> the DACS enroll body.

    Raises :class:`mappings.lookups.UnmappedValue` when a value has no row in its lookup: that
    enrollment's business error (no DACS call), reported in its response.
    """
    tables = tables or lookup_tables.current()
    customer, program = enrollment["customerInfo"], enrollment["programInfo"]
    location, assets = enrollment["locationInfo"], enrollment["assetInfo"]
    devices = []
    for asset in assets["assetList"]:
        spec = specification(asset)
        devices.append({
            "sequence": asset.get("sequence"),
            "assetId": asset.get("assetId"),
            "deviceType": tables.map("AssetType", asset["assetType"], "assetType"),
            "specification": tables.map("AssetSpec", spec, "make!model") if spec else None,
            "make": asset.get("make"),
            "model": asset.get("model"),
            "serialNumber": asset.get("serialNo"),
            "nicId": asset["nicId"],
            "headEndSystem": asset["headEndSystem"],
        })
    return {
        "enrollmentRequestId": enrollment["enrollmentRequestId"],
        "messageId": message["messageId"],
        "drmsInstanceId": message["drmsInstanceId"],
        "programCode": program["programCode"],
        "cisServiceAgreementId": program.get("cisServiceAgreementId"),
        "startDateTime": program["startDateTimeISO"],
        "enrollmentStatus": tables.map("EnrollmentStatus", program.get("enrollmentStatus")
                                       or DEFAULT_STATUS, "enrollmentStatus"),
        "installationMethod": tables.map("InstallationMethod", assets["installationMethod"],
                                         "installationMethod"),
        "assetOwnership": tables.map("AssetOwnership", assets["assetOwnership"], "assetOwnership"),
        "customer": {"cisPersonId": customer["cisPersonId"],
                     "cisAccountId": customer["cisAccountId"],
                     "name": customer.get("name"), "email": customer.get("email")},
        "location": {key: location.get(key) for key in (
            "cisPremiseId", "cisServicePointId", "timeZone", "address1", "address2", "city",
            "state", "postal", "country")},
        "devices": devices,
    }


# -- responses ------------------------------------------------------------------------------------
def _response(enrollment_request_id: str, code: str, value: str = "",
              text: str = "") -> dict[str, Any]:
    return {"id": enrollment_request_id, "value": value, "responseCode": code,
            "responseText": text, "responseTimeISO": now_iso()}


def success_response(enrollment_request_id: str, dacs_answer: dict[str, Any]) -> dict[str, Any]:
    """DACS created the enrollment: SUCCESS, its ``enrollmentId`` in ``value``."""
    return _response(enrollment_request_id, "SUCCESS", str(dacs_answer.get("enrollmentId") or ""))


def business_error_response(enrollment_request_id: str, message_nbr: str | None,
                            text: str) -> dict[str, Any]:
    """DACS refused it (VAL-ERROR / ERROR): ERROR with DACS's message, except ``10589``
    (already enrolled), which is SUCCESS: the enrollment DERMS asked for exists."""
    if str(message_nbr or "") == ALREADY_ENROLLED:
        return _response(enrollment_request_id, "SUCCESS", "", text)
    return _response(enrollment_request_id, "ERROR", "", text)


def unmapped_response(enrollment_request_id: str,
                      error: lookup_tables.UnmappedValue) -> dict[str, Any]:
    """A value with no lookup row: ERROR, nothing sent to DACS."""
    return _response(enrollment_request_id, "ERROR", "", str(error))


def failure_response(enrollment_request_id: str, text: str) -> dict[str, Any]:
    """A technical fault (DACS down, timeout, 5xx after the retries): FAILURE."""
    return _response(enrollment_request_id, "FAILURE", "", text)


def answer(message: dict[str, Any], responses: list[dict[str, Any]]) -> dict[str, Any]:
    """The MsgAck DERMS gets: responses in the order of the enrollments, the contract's ackType."""
    return msg_ack(message["messageId"], responses)


def dacs_business_error(body: Any) -> tuple[str | None, str] | None:
    """``(messageNbr, message)`` when a DACS error body is a business error (``VAL-ERROR`` /
    ``ERROR``), else None: any other refusal (401, 404, a proxy's page) is a technical fault."""
    if isinstance(body, dict) and body.get("status") in ("VAL-ERROR", "ERROR"):
        number = body.get("messageNbr")
        return (str(number) if number not in (None, "") else None,
                str(body.get("message") or body.get("status")))
    return None
