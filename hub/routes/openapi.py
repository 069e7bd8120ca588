"""The OpenAPI 3 document, generated from the flow registry and the marshmallow schemas."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, jsonify, render_template_string

from hub.auth import require
from hub.flows import FLOWS

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    spec = APISpec(title="Utility integration hub", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "DACS <-> Edge DERMS integration hub. See docs/flows.md."})
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", {"type": "object", "properties": {
        k: {"type": "string"} for k in ("type", "title", "detail", "correlationId")} | {
        "status": {"type": "integer"},
        "errors": {"type": "object", "additionalProperties": {"type": "array",
                                                               "items": {"type": "string"}}}}})
    spec.components.schema("Job", {"type": "object", "properties": {
        "jobId": {"type": "string"}, "flow": {"type": "string"},
        "status": {"type": "string", "enum": ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"]},
        "progress": {"type": "object", "properties": {"done": {"type": "integer"},
                                                      "total": {"type": "integer"}}},
        "result": {}, "errors": {"type": "array", "items": {}},
        "createdAt": {"type": "string"}, "updatedAt": {"type": "string"}}})
    errors = {str(s): {"description": d, "content": {"application/problem+json": {"schema": _PROBLEM}}}
              for s, d in ((400, "bad input"), (401, "no valid credentials"),
                           (403, "another system's flow"), (409, "already in progress"),
                           (413, "body too large"))}
    for flow in sorted(FLOWS.values(), key=lambda f: f.path):
        name = flow.schema.__name__.removesuffix("Schema") if flow.schema else None
        if flow.schema is not None and name not in spec.components.schemas:
            spec.components.schema(name, schema=flow.schema)
        body: dict[str, Any]
        if flow.multipart:
            body = {"multipart/form-data": {"schema": {"type": "object", "properties": {
                "message": {"type": "string", "description": "JSON: " + (name or "message")},
                "file": {"type": "string", "format": "binary"}}}}}
        elif flow.schema is not None:
            body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
        else:
            body = {"application/json": {"schema": {"type": "object"}}}
        responses = dict(errors)
        for status, text in flow.answers.items():
            responses[str(status)] = {"description": text}
        if flow.mode == "sync":
            responses["504"] = {"description": "no answer within sync.timeout.seconds; poll the job",
                                "content": {"application/problem+json": {"schema": _PROBLEM}}}
        spec.path(path=flow.path, operations={flow.method.lower(): {
            "operationId": flow.name, "summary": flow.summary, "tags": [flow.client],
            "description": f"Flow `{flow.name}`, {flow.mode}. Client: `{flow.client}`.",
            "security": [{"basic": []}, {"bearer": []}],
            "requestBody": {"required": True, "content": body}, "responses": responses}})
    _operations_paths(spec)
    return spec.to_dict()


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": _PROBLEM}}}


def _operations_paths(spec: APISpec) -> None:
    """Jobs and failed work: not flows, but part of the API an integrator and ops script against."""
    spec.components.schema("FailedEntry", {"type": "object", "properties": {
        "id": {"type": "string"}, "flow": {"type": "string"}, "jobId": {"type": "string"},
        "step": {"type": "string"}, "error": {"type": "string"}, "attempts": {"type": "integer"},
        "status": {"type": "string", "enum": ["OPEN", "REQUEUED", "DISCARDED"]},
        "createdAt": {"type": "string"}, "resolvedAt": {"type": "string", "nullable": True},
        "input": {"description": "the step's stored input (only on GET of one entry)"}}})
    job = {"$ref": "#/components/schemas/Job"}
    entry = {"$ref": "#/components/schemas/FailedEntry"}
    auth = {"401": _problem("no valid credentials")}
    ops_only = {**auth, "403": _problem("not the ops client")}
    query = [{"in": "query", "name": name, "required": False, "schema": {"type": "string"},
              "description": text} for name, text in (
        ("flow", "a flow name"), ("since", "ISO 8601 time"), ("until", "ISO 8601 time"))]
    path_id = {"in": "path", "name": "id", "required": True, "schema": {"type": "string"}}

    def op(tag: str, operation_id: str, summary: str, responses: dict[str, Any],
           **extra: Any) -> dict[str, Any]:
        return {"operationId": operation_id, "summary": summary, "tags": [tag],
                "security": [{"basic": []}, {"bearer": []}], "responses": responses, **extra}

    spec.path(path="/api/v1/jobs", operations={"get": op(
        "jobs", "list_jobs", "Jobs, newest first (a client sees its own; ops sees all)",
        {"200": _json("the jobs", {"type": "object", "properties": {
            "jobs": {"type": "array", "items": job}}}), "400": _problem("bad filter"), **auth},
        parameters=[query[0], query[1],
                    {"in": "query", "name": "status", "schema": {"type": "string"}},
                    {"in": "query", "name": "limit", "schema": {"type": "integer"}}])})
    spec.path(path="/api/v1/jobs/{jobId}", operations={"get": op(
        "jobs", "get_job", "One job's status, progress and result",
        {"200": _json("the job", job), "404": _problem("no such job (or another client's)"),
         **auth},
        parameters=[{"in": "path", "name": "jobId", "required": True,
                     "schema": {"type": "string"}}])})
    spec.path(path="/api/v1/failed", operations={"get": op(
        "ops", "list_failed", "Failed work (dead letters), newest first",
        {"200": _json("the entries", {"type": "object", "properties": {
            "failed": {"type": "array", "items": entry}, "count": {"type": "integer"}}}),
         "400": _problem("bad filter"), **ops_only},
        parameters=[*query, {"in": "query", "name": "status", "schema": {
            "type": "string", "enum": ["OPEN", "REQUEUED", "DISCARDED", "all"]}},
                    {"in": "query", "name": "limit", "schema": {"type": "integer"}}])})
    spec.path(path="/api/v1/failed/{id}", operations={"get": op(
        "ops", "get_failed", "One failed entry, with its stored input",
        {"200": _json("the entry", entry), "404": _problem("no such entry"), **ops_only},
        parameters=[path_id])})
    spec.path(path="/api/v1/failed/{id}/requeue", operations={"post": op(
        "ops", "requeue_failed", "Run the failed step again from its stored input",
        {"202": _json("re-queued: {id, flow, jobId, step, taskId, status, statusUrl}"),
         "404": _problem("no such entry"), "409": _problem("already re-queued or discarded"),
         "503": _problem("the broker did not take it; the entry stays OPEN"), **ops_only},
        parameters=[path_id])})
    spec.path(path="/api/v1/failed/requeue", operations={"post": op(
        "ops", "requeue_failed_many", "Re-queue every OPEN entry of a flow and time range",
        {"200": _json("{requeued, skipped, failed}"), "400": _problem("bad filter"),
         "503": _problem("the broker refused; the entries not tried stay OPEN"), **ops_only},
        requestBody={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {
                "flow": {"type": "string"}, "since": {"type": "string"},
                "until": {"type": "string"}}}}}})})
    spec.path(path="/api/v1/failed/{id}/discard", operations={"post": op(
        "ops", "discard_failed", "Give up on a failed entry (the job stays FAILED)",
        {"200": _json("{id, status: DISCARDED}"), "404": _problem("no such entry"),
         "409": _problem("already re-queued or discarded"), **ops_only},
        parameters=[path_id])})


@bp.get("/openapi.json")
@require("dacs", "derms", "ops")
def openapi_json() -> Response:
    return jsonify(build_spec())


_DOCS = """<!doctype html><html><head><meta charset="utf-8"><title>Hub API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2rem}td,th{text-align:left;padding:.3rem .6rem;
border-bottom:1px solid #ddd}</style></head><body><h1>Hub API</h1>
<p>The machine-readable document is <a href="openapi.json"><code>/api/v1/openapi.json</code></a>.</p>
<table><tr><th>Method</th><th>Path</th><th>Client</th><th>Mode</th><th>What it does</th></tr>
{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() %}
<tr><td>{{ method|upper }}</td><td><code>{{ path }}</code></td><td>{{ (op.tags or ['-'])[0] }}</td>
<td>{{ op.description.split(',')[1].split('.')[0] if op.description else '' }}</td>
<td>{{ op.summary }}</td></tr>{% endfor %}{% endfor %}</table></body></html>"""


@bp.get("/docs")
@require("dacs", "derms", "ops")
def docs() -> str:
    spec = build_spec()
    return render_template_string(_DOCS, spec=_Obj(spec))


class _Obj(dict):  # lets the template say spec.paths
    __getattr__ = dict.get  # type: ignore[assignment]
