"""The registry of flows: one entry per inbound endpoint, declared next to its route.

Adding a flow is one obvious diff: ``mappings/<flow>.py`` (schema and mapping), ``tasks/<flow>.py``
(the steps), ``hub/routes/<flow>.py`` (the route, which registers its :class:`Flow` here). The
OpenAPI document and the docs are generated from this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

__all__ = ["Flow", "FLOWS", "register"]


@dataclass(frozen=True)
class Flow:
    name: str                      # snake_case, the same in every layer
    method: str
    path: str
    client: str                    # "dacs", "derms" or "ops": who may call it
    mode: str                      # "sync": the door waits for the answer; "async": 202
    summary: str
    task: str                      # the registered name of the first task
    schema: type[Schema] | None = None  # what the door validates, and OpenAPI shows
    multipart: bool = False
    answers: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in {"sync", "async"}:
            raise ValueError(f"{self.name}: mode must be sync or async")
        if self.multipart and self.schema is None:
            raise ValueError(f"{self.name}: a multipart flow needs the schema of its message part")


FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    if flow.name in FLOWS and FLOWS[flow.name] != flow:
        raise ValueError(f"flow {flow.name} registered twice")
    FLOWS[flow.name] = flow
    return flow


def describe() -> list[dict[str, Any]]:
    return [{"name": f.name, "method": f.method, "path": f.path, "client": f.client,
             "mode": f.mode, "summary": f.summary} for f in FLOWS.values()]
