"""Enrollment Sync (DACS -> DERMS): DACS's enrollment / registration message to DERMS ``/enroll``.

The DERMS body groups DACS's sections under DERMS's names; values pass through unchanged.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from mappings.base import Id, InboundSchema

FLOW = "enrollment_sync"


class SendDetailsSchema(InboundSchema):
    syncRequestId = Id()


class ContactInfoSchema(InboundSchema):
    contactId = fields.String()
    cisPersonId = fields.String()


class SubscriptionInfoSchema(InboundSchema):
    subscriptionId = Id()
    cisAccountId = fields.String()
    subscriptionType = fields.String(required=True, validate=validate.Length(min=1, max=32))
    status = fields.String()
    programId = fields.String()
    programCode = Id()
    startDateTime = fields.String()
    endDateTime = fields.String(allow_none=True)


class DeviceSchema(InboundSchema):
    nicId = Id()
    headEndSystem = Id()
    deviceType = fields.String()
    specification = fields.String()


class LocationInfoSchema(InboundSchema):
    division = fields.String()
    servicePointId = fields.String()
    cisPremiseId = fields.String()
    cisServicePointId = fields.String()
    controllableDevices = fields.List(fields.Nested(DeviceSchema), load_default=list)


class EnrollmentSyncSchema(InboundSchema):
    """The inbound body of ``POST /api/v1/dacs/enrollment-syncs``."""

    sendDetails = fields.Nested(SendDetailsSchema, required=True)
    contactInfo = fields.Nested(ContactInfoSchema, load_default=dict)
    subscriptionInfo = fields.Nested(SubscriptionInfoSchema, required=True)
    locationInfo = fields.Nested(LocationInfoSchema, required=True)


def message_id(message: dict[str, Any]) -> str:
    return message["sendDetails"]["syncRequestId"]


def to_derms(message: dict[str, Any]) -> dict[str, Any]:
    """DACS enrollment sync -> DERMS ``/enroll`` body."""
    sub = message["subscriptionInfo"]
    loc = message["locationInfo"]
    contact = message.get("contactInfo") or {}
    return {
        "messageId": message_id(message),
        "syncRequestId": message_id(message),
        "enrollmentType": sub["subscriptionType"],
        "status": sub.get("status"),
        "customer": {"contactId": contact.get("contactId"), "cisPersonId": contact.get("cisPersonId"),
                     "cisAccountId": sub.get("cisAccountId")},
        "program": {"programId": sub.get("programId"), "programCode": sub["programCode"],
                    "subscriptionId": sub["subscriptionId"],
                    "startDateTimeISO": sub.get("startDateTime"),
                    "endDateTimeISO": sub.get("endDateTime")},
        "location": {"division": loc.get("division"), "servicePointId": loc.get("servicePointId"),
                     "cisPremiseId": loc.get("cisPremiseId"),
                     "cisServicePointId": loc.get("cisServicePointId")},
        "devices": [{"nicId": d["nicId"], "headEndSystem": d["headEndSystem"],
                     "deviceType": d.get("deviceType"), "specification": d.get("specification")}
                    for d in loc.get("controllableDevices", [])],
    }


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """What DACS gets back on success: its syncRequestId as the externalId."""
    return {"externalId": message_id(message)}
