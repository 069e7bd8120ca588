"""Inbound authentication: each client (dacs, derms, ops) has its own Basic or Bearer credentials.

Every comparison is constant-time, and every configured client is checked, so the time taken does
not tell which client or which part matched.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from hub.config import Config
from hub.errors import ApiError

__all__ = ["CLIENTS", "identify", "require"]

CLIENTS = ("dacs", "derms", "ops")
F = TypeVar("F", bound=Callable[..., Any])


def _eq(given: str, expected: str | None) -> bool:
    if not expected:
        # Still compare, so a missing credential costs the same time as a wrong one.
        hmac.compare_digest(given.encode(), given.encode())
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def identify(config: Config, authorization: str | None) -> str | None:
    """The client whose credentials ``authorization`` carries, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    found = None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        for client in CLIENTS:
            ok_user = _eq(user, config.get(f"clients.{client}.username"))
            ok_pass = _eq(password, config.get(f"clients.{client}.password"))
            if ok_user and ok_pass and found is None:
                found = client
    elif scheme.lower() == "bearer":
        for client in CLIENTS:
            if _eq(value, config.get(f"clients.{client}.token")) and found is None:
                found = client
    return found


def require(*allowed: str) -> Callable[[F], F]:
    """Allow the request only for the named clients: 401 without valid credentials, 403 for others."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import current_app

            client = identify(current_app.config["HUB"], request.headers.get("Authorization"))
            if client is None:
                raise ApiError(401, "Unauthorized", "valid credentials are required",
                               headers={"WWW-Authenticate": 'Basic realm="hub", Bearer'})
            if client not in allowed:
                raise ApiError(403, "Forbidden",
                               f"the {client} client may not call this endpoint")
            g.client = client
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
