"""Common Error Handler: the error report accepted at ``POST /api/v1/common/errors``."""

from __future__ import annotations

from marshmallow import fields, validate

from mappings.base import InboundSchema

FLOW = "common_errors"


class ErrorReportSchema(InboundSchema):
    flow = fields.String(required=True, validate=validate.Length(min=1, max=64))
    jobId = fields.String(allow_none=True, validate=validate.Length(max=128))
    step = fields.String(allow_none=True, validate=validate.Length(max=128))
    messageId = fields.String(allow_none=True, validate=validate.Length(max=256))
    time = fields.String(allow_none=True)
    target = fields.String(allow_none=True)
    downstreamStatus = fields.Integer(allow_none=True)
    downstreamMessage = fields.String(allow_none=True, validate=validate.Length(max=4000))
