"""The sandbox's memory: what the simulated systems received, the call log, and the switches.

Everything lives in one :class:`SandboxState` guarded by one lock. The web server is threaded and
the hub calls in parallel, so every read-modify-write happens under that lock; sleeps
(latency, scripted delays) happen outside it.
"""

from __future__ import annotations

import copy
import random
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SYSTEMS = ("dacs", "derms", "oauth")  # "oauth" is the token endpoint
SWITCH_KEYS = ("latency_ms", "error_rate", "down")


def now_iso() -> str:
    """UTC now in the contract's format, ``2026-12-04T10:00:00.000Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Reservation:
    """Devices reserved for one event stage. Record ids are kept to check exactly-once delivery."""

    event: str | None
    stage: str | None
    calls: int = 0
    record_ids: list[Any] = field(default_factory=list)

    def summary(self, with_ids: bool) -> dict[str, Any]:
        unique = len(set(map(str, self.record_ids)))
        out = {"eventExternalIdentifier": self.event, "externalIdentifier": self.stage,
               "calls": self.calls, "count": len(self.record_ids), "unique": unique,
               "duplicates": len(self.record_ids) - unique}
        if with_ids:
            out["recordIds"] = list(self.record_ids)
        return out


@dataclass
class Outcomes:
    """Outcomes posted for one event."""

    event: str | None
    calls: int = 0
    by_outcome: Counter[str] = field(default_factory=Counter)
    nic_ids: list[str] = field(default_factory=list)

    def summary(self, with_ids: bool) -> dict[str, Any]:
        out = {"eventExternalIdentifier": self.event, "calls": self.calls,
               "count": len(self.nic_ids), "byOutcome": dict(self.by_outcome)}
        if with_ids:
            out["nicIds"] = list(self.nic_ids)
        return out


class SandboxState:
    """Thread-safe in-memory state of the simulated DACS and DERMS."""

    def __init__(self, *, auth: dict[str, Any] | None = None, max_calls: int = 10_000,
                 seed: int | None = None, token_ttl: int = 3600) -> None:
        self.lock = threading.RLock()
        self.initial_auth = copy.deepcopy(auth or {})
        self.max_calls = max_calls
        self.token_ttl = token_ttl
        self.random = random.Random(seed)
        self.clear()

    def clear(self) -> None:
        """Forget everything: stored objects, calls, switches, scripted failures, tokens.

        Inbound auth goes back to what the app was created with.
        """
        with self.lock:
            #: {"dacs_auth": {...}, "derms_auth": {...}, "oauth_clients": {id: secret}}
            self.auth: dict[str, Any] = copy.deepcopy(self.initial_auth)
            self.calls: deque[dict[str, Any]] = deque(maxlen=self.max_calls)
            self.switches: dict[tuple[str, str | None], dict[str, Any]] = {}
            self.failures: list[dict[str, Any]] = []
            self.tokens: dict[str, float] = {}  # token -> monotonic expiry
            self.token_grants = 0
            self.counters: Counter[str] = Counter()
            # DACS
            self.enrolled: dict[str, set[str]] = {}  # programCode -> nicIds
            self.enrollments: list[dict[str, Any]] = []
            self.program_events: dict[str, dict[str, Any]] = {}
            self.program_event_actions: list[dict[str, Any]] = []
            self.reservations: dict[tuple[str | None, str | None], Reservation] = {}
            self.outcomes: dict[str | None, Outcomes] = {}
            self.sync_updates: dict[str, list[dict[str, Any]]] = {}
            self.device_statuses: list[dict[str, Any]] = []
            # DERMS
            self.derms_enrollments: dict[str, dict[str, Any]] = {}
            self.status_checks: list[dict[str, Any]] = []
            self.opt_outs: list[dict[str, Any]] = []
            self.program_updates: list[dict[str, Any]] = []
            self.aggregator_updates: list[dict[str, Any]] = []
            self.derms_ids: dict[str, str] = {}  # "program:<id>" -> DERMS external id
            self.device_scores: list[dict[str, Any]] = []
            self.reservation_acks: list[dict[str, Any]] = []
            self.outcome_acks: list[dict[str, Any]] = []

    def next_id(self, kind: str) -> int:
        """A per-kind sequence number (ENR-1, ENR-2, ...)."""
        with self.lock:
            self.counters[kind] += 1
            return self.counters[kind]

    # -- tokens -------------------------------------------------------------------------------
    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.token_grants += 1
            self.tokens[token] = time.monotonic() + self.token_ttl
        return token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self.tokens.get(token)
            return expiry is not None and time.monotonic() < expiry

    # -- switches and scripted failures -------------------------------------------------------
    def set_switches(self, system: str, op: str | None, values: dict[str, Any]) -> dict[str, Any]:
        """Merge ``values`` into the switches of ``system`` (or of one of its ops)."""
        with self.lock:
            current = self.switches.setdefault((system, op), {})
            current.update({k: values[k] for k in SWITCH_KEYS if k in values})
            return dict(current)

    def effective_switches(self, system: str, op: str | None) -> dict[str, Any]:
        """System-level switches, overridden by the op's own."""
        with self.lock:
            merged = {"latency_ms": 0, "error_rate": 0.0, "down": False}
            merged.update(self.switches.get((system, None), {}))
            if op is not None:
                merged.update(self.switches.get((system, op), {}))
            return merged

    def add_failure(self, failure: dict[str, Any]) -> None:
        with self.lock:
            self.failures.append(dict(failure))

    def take_failure(self, system: str, op: str | None, body: Any) -> dict[str, Any] | None:
        """The first scripted failure that applies to this call, with one use consumed."""
        with self.lock:
            for failure in self.failures:
                if failure["system"] != system or failure.get("op") not in (None, "*", op):
                    continue
                match = failure.get("match") or {}
                if match and not (isinstance(body, dict)
                                  and all(body.get(k) == v for k, v in match.items())):
                    continue
                if failure["times"] > 0:
                    failure["times"] -= 1
                    if failure["times"] == 0:
                        self.failures.remove(failure)
                return dict(failure)
            return None

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        with self.lock:
            return rate > 0 and self.random.random() < rate

    # -- call log -----------------------------------------------------------------------------
    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(entry)

    def list_calls(self, system: str | None = None, op: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(c) for c in self.calls
                    if (system is None or c["system"] == system) and (op is None or c["op"] == op)]

    # -- summary ------------------------------------------------------------------------------
    def summary(self, *, with_ids: bool = False) -> dict[str, Any]:
        """Everything stored, as JSON; reservation/outcome record ids only ``with_ids``."""
        with self.lock:
            reservations = [r.summary(with_ids) for r in self.reservations.values()]
            dacs = {
                "enrolled": {code: sorted(nics) for code, nics in self.enrolled.items()},
                "enrollments": list(self.enrollments),
                "programEvents": dict(self.program_events),
                "programEventActions": list(self.program_event_actions),
                "reservations": reservations,
                "reservedTotal": sum(r["count"] for r in reservations),
                "outcomes": [o.summary(with_ids) for o in self.outcomes.values()],
                "syncRequestUpdates": dict(self.sync_updates),
                "deviceStatusResponses": list(self.device_statuses),
            }
            derms = {
                "enrollments": dict(self.derms_enrollments),
                "statusChecks": list(self.status_checks),
                "optOuts": list(self.opt_outs),
                "programUpdates": list(self.program_updates),
                "aggregatorUpdates": list(self.aggregator_updates),
                "deviceScores": list(self.device_scores),
                "reservationAcks": list(self.reservation_acks),
                "outcomeAcks": list(self.outcome_acks),
            }
            counts = {f"dacs.{k}": len(v) for k, v in dacs.items() if isinstance(v, list | dict)}
            counts.update({f"derms.{k}": len(v) for k, v in derms.items()})
            return copy.deepcopy({
                "dacs": dacs, "derms": derms, "counts": counts, "calls": len(self.calls),
                "tokenGrants": self.token_grants, "failures": list(self.failures),
                "switches": [{"system": s, "op": o, **v} for (s, o), v in self.switches.items()],
            })
