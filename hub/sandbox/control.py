"""A small client for the sandbox's control API, for tests, demos and benchmarks."""

from __future__ import annotations

from typing import Any

import requests

__all__ = ["SandboxControl"]


class SandboxControl:
    """Drive a running sandbox: reset it, flip switches, script failures, read what it received.

    ``base_url`` is the sandbox root (``http://127.0.0.1:PORT``), not its ``/dacs`` prefix.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def __repr__(self) -> str:
        return f"SandboxControl({self.base_url!r})"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base_url}/_sandbox/{path}",
                                        timeout=self.timeout, **kwargs)
        response.raise_for_status()
        return response.json()

    def health(self) -> dict[str, Any]:
        """``{"status": "UP"}`` when the sandbox answers."""
        return self._request("GET", "health")

    def reset(self) -> None:
        """Clear stored objects, the call log, switches, scripted failures and issued tokens."""
        self._request("POST", "reset")

    def switches(self, system: str, op: str | None = None, **values: Any) -> dict[str, Any]:
        """Set ``latency_ms``, ``error_rate`` (0..1) and/or ``down`` for a system or one op."""
        return self._request("POST", "switches", json={"system": system, "op": op, **values})

    def fail(self, system: str, op: str | None, status: int | None = 500, times: int = 1,
             body: Any = None, retry_after: int | float | str | None = None,
             match: dict[str, Any] | None = None,
             delay_ms: int | float | None = None) -> dict[str, Any]:
        """Make the next ``times`` matching calls (``-1``: all) answer ``status``.

        ``op=None`` matches every op of the system; ``match`` restricts it to bodies whose
        top-level keys have those values. ``status=None`` with ``delay_ms`` only delays the call,
        which is then answered normally (a slow success, for client timeouts).
        """
        return self._request("POST", "failures", json={
            "system": system, "op": op, "status": status, "times": times, "body": body,
            "retry_after": retry_after, "match": match, "delay_ms": delay_ms})

    def auth(self, **settings: Any) -> dict[str, Any]:
        """Change inbound auth at run time: ``dacs_auth=``, ``derms_auth=``, ``oauth_clients=``.

        ``reset()`` restores the settings the sandbox was started with.
        """
        return self._request("POST", "auth", json=settings)

    def calls(self, system: str | None = None, op: str | None = None) -> list[dict[str, Any]]:
        """The call log, oldest first, optionally filtered by system and op."""
        params = {k: v for k, v in (("system", system), ("op", op)) if v}
        return self._request("GET", "calls", params=params)["calls"]

    def state(self, *, record_ids: bool = False) -> dict[str, Any]:
        """Everything the simulated systems stored (record ids of reservations only if asked)."""
        return self._request("GET", "state", params={"record_ids": "1"} if record_ids else {})

    def close(self) -> None:
        self.session.close()
