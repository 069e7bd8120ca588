"""The sandbox web app: simulated DACS under ``/dacs``, DERMS under ``/derms``, OAuth2 tokens at
``/oauth2/token``, and the control API under ``/_sandbox``.

Every call to a simulated system goes through one pipeline (:func:`_serve`): read the body, then
``down`` -> latency -> inbound auth -> scripted failure -> ``error_rate`` -> the op's handler, and
finally one entry in the call log with the status actually answered.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from typing import Any

from flask import Flask, Request, Response, jsonify, request

from hub.sandbox import ops
from hub.sandbox.state import SWITCH_KEYS, SYSTEMS, SandboxState, now_iso

__all__ = ["create_sandbox_app"]

#: form fields never written to the call log
_SECRET_FIELDS = ("secret", "password", "token")
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")  # bool("false") would be True
    return value


_SWITCH_TYPES = {"latency_ms": float, "error_rate": float, "down": _strict_bool}


class HashingSink(io.RawIOBase):
    """Where an uploaded file part goes: it is hashed and counted as it streams in, never kept.

    So a 200 MB device-score file costs the sandbox neither memory nor disk.
    """

    def __init__(self) -> None:
        super().__init__()
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.digest.update(chunk)
        self.size += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return 0  # werkzeug rewinds the part when it ends; there is nothing to rewind

    def readinto(self, buffer: Any) -> int:
        return 0


class SandboxRequest(Request):
    """A request whose multipart file parts stream into :class:`HashingSink`."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> Any:
        return HashingSink()


def create_sandbox_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build the sandbox app.

    ``settings`` (all optional):

    * ``dacs_auth`` / ``derms_auth``: ``{"username", "password"}`` or ``{"token"}``; when set,
      calls to that system without those credentials (or a token from ``/oauth2/token``) get 401;
    * ``oauth_clients``: ``{client_id: secret}`` accepted by ``/oauth2/token``; when set, both
      systems also require credentials;
    * ``token_expires_in`` (seconds, default 3600), ``max_calls`` (call log size, default 10000),
      ``seed`` (for ``error_rate``), ``paths``: ``{"dacs": {op: path}, "derms": {...}}`` to
      serve non-default paths.
    """
    settings = dict(settings or {})
    auth = {k: settings[k] for k in ("dacs_auth", "derms_auth", "oauth_clients") if k in settings}
    state = SandboxState(auth=auth, max_calls=int(settings.get("max_calls", 10_000)),
                         seed=settings.get("seed"),
                         token_ttl=int(settings.get("token_expires_in", 3600)))
    app = Flask(__name__)
    app.request_class = SandboxRequest
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox"] = state

    known: dict[str, set[str]] = {}
    for system, table in ops.PATHS.items():
        overrides = (settings.get("paths") or {}).get(system, {})
        known[system] = set()
        for op, (method, default) in table.items():
            path = overrides.get(op, default)
            known[system].add(path.rstrip("/"))
            rule = f"/{system}/" + path.lstrip("/").replace("{", "<path:").replace("}", ">")
            app.add_url_rule(rule, f"{system}.{op}", _view(state, system, op), methods=[method],
                             strict_slashes=False)
        app.add_url_rule(f"/{system}/<path:rest>", f"{system}.unknown",
                         _unknown(state, system, known[system]), methods=_ALL_METHODS)
    app.add_url_rule("/oauth2/token", "oauth.token", _view(state, "oauth", "token"),
                     methods=["POST"])
    _register_control(app, state)
    return app


def _view(state: SandboxState, system: str, op: str) -> Any:
    def view(**params: str) -> Response:
        return _serve(state, system, op, params)
    view.__name__ = f"{system}_{op}"
    return view


def _unknown(state: SandboxState, system: str, known: set[str]) -> Any:
    def view(rest: str) -> Response:
        # A known path reached with the wrong method lands here too (this rule takes any method).
        status = 405 if "/" + rest.rstrip("/") in known else 404
        started = (time.monotonic(), now_iso())
        _read_body()
        state.record(_log_entry(system, "unknown", status, None, None, {}, started))
        return _respond(status, _error(system, status, "no such operation"), {})
    view.__name__ = f"{system}_unknown"
    return view


# -- the pipeline -----------------------------------------------------------------------------
def _serve(state: SandboxState, system: str, op: str, params: dict[str, str]) -> Response:
    started = (time.monotonic(), now_iso())
    body, file_info, form = _read_body()
    call = ops.Incoming(system, op, json=body, file=file_info, params=params, form=form,
                        correlation_id=request.headers.get("X-Correlation-ID"),
                        basic=_basic_pair())
    status, payload, headers = _answer(state, call)
    state.record(_log_entry(system, op, status, ops.log_body(system, op, body), file_info,
                            form, started))
    return _respond(status, payload, headers)


def _answer(state: SandboxState, call: ops.Incoming) -> tuple[int, Any, dict[str, str]]:
    system, op = call.system, call.op
    switches = state.effective_switches(system, op)
    if switches["down"]:
        return 503, _error(system, 503, f"{system} is down (sandbox switch)"), {}
    if switches["latency_ms"]:
        time.sleep(float(switches["latency_ms"]) / 1000)
    if system != "oauth" and not _authorized(state, system):
        return 401, _error(system, 401, "missing or wrong credentials"), {}
    failure = state.take_failure(system, op, call.json)
    if failure is not None:
        if failure.get("delay_ms"):
            time.sleep(float(failure["delay_ms"]) / 1000)
        if failure.get("status"):
            status = int(failure["status"])
            body = failure.get("body")
            if body is None:
                body = _error(system, status, "scripted failure")
            headers = {}
            if failure.get("retry_after") is not None:
                headers["Retry-After"] = str(failure["retry_after"])
            return status, body, headers
    if state.roll(float(switches["error_rate"])):
        return 500, _error(system, 500, "random failure (sandbox error_rate)"), {}
    status, payload = ops.handle(state, call)
    return status, payload, {}


def _read_body() -> tuple[Any, dict[str, Any] | None, dict[str, str]]:
    """``(json, file info, form fields)``.

    The whole body is read before any answer, even a 401 or 503, so that a client still sending
    a large upload gets that answer rather than a connection reset.
    """
    if request.mimetype == "multipart/form-data":
        form = request.form.to_dict()
        part = request.files.get("file")
        file_info = None
        if part is not None and isinstance(part.stream, HashingSink):
            file_info = {"filename": part.filename, "size": part.stream.size,
                         "sha256": part.stream.digest.hexdigest(),
                         "contentType": part.mimetype or None}
        body = None
        if "message" in form:  # the hub's multipart shape: a JSON `message` part and a `file`
            try:
                body = json.loads(form["message"])
            except ValueError:
                body = None
        return body, file_info, form
    if request.mimetype == "application/x-www-form-urlencoded":
        return None, None, request.form.to_dict()
    data = request.get_data(cache=False)
    if not data:
        return None, None, {}
    try:
        return json.loads(data), None, {}
    except ValueError:
        return None, None, {}


def _basic_pair() -> tuple[str, str] | None:
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        return None
    return credentials.username or "", credentials.password or ""


def _same(a: Any, b: Any) -> bool:
    return hmac.compare_digest(str(a).encode(), str(b).encode())


def _authorized(state: SandboxState, system: str) -> bool:
    """No auth settings: anything goes. Else the system's own credentials or an issued token."""
    with state.lock:
        own = dict(state.auth.get(f"{system}_auth") or {})
        clients = state.auth.get("oauth_clients")
    if not own and not clients:
        return True
    credentials = request.authorization
    if credentials is None:
        return False
    if credentials.type == "basic" and own.get("username") is not None:
        return (_same(credentials.username or "", own["username"])
                and _same(credentials.password or "", own.get("password", "")))
    if credentials.type == "bearer" and credentials.token:
        if own.get("token") and _same(credentials.token, own["token"]):
            return True
        return state.token_valid(credentials.token)
    return False


def _error(system: str, status: int, message: str) -> dict[str, Any]:
    """A default error body, in the assumed shape of the system."""
    if system == "dacs":
        return {"status": "ERROR", "messageNbr": str(status), "messageCategory": "11011",
                "message": f"sandbox DACS: {message}"}
    return {"error": f"HTTP_{status}", "message": f"sandbox {system.upper()}: {message}"}


def _respond(status: int, payload: Any, headers: dict[str, str]) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers.update(headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="sandbox", Bearer'
    if request.headers.get("X-Correlation-ID"):
        response.headers["X-Correlation-ID"] = request.headers["X-Correlation-ID"]
    return response


def _log_entry(system: str, op: str, status: int, body: Any, file_info: dict[str, Any] | None,
               form: dict[str, str], started: tuple[float, str]) -> dict[str, Any]:
    credentials = request.authorization
    entry: dict[str, Any] = {
        "system": system, "op": op, "method": request.method, "path": request.path,
        "status": status, "correlationId": request.headers.get("X-Correlation-ID"),
        "auth": credentials.type if credentials is not None else None,
        "user": credentials.username if credentials is not None else None,  # never the secret
        "json": body, "file": file_info,
        "at": started[1], "elapsedMs": round((time.monotonic() - started[0]) * 1000),
    }
    safe_form = {k: v for k, v in form.items()
                 if k != "message" and not any(s in k.lower() for s in _SECRET_FIELDS)}
    if safe_form:
        entry["form"] = safe_form
    return entry


# -- the control API --------------------------------------------------------------------------
def _register_control(app: Flask, state: SandboxState) -> None:
    def bad(message: str) -> Response:
        return _respond(400, {"error": "BAD_REQUEST", "message": message}, {})

    @app.get("/_sandbox/health")
    def health() -> Response:
        return jsonify({"status": "UP"})

    @app.post("/_sandbox/reset")
    def reset() -> Response:
        state.clear()
        return jsonify({"status": "RESET"})

    @app.post("/_sandbox/switches")
    def switches() -> Response:
        body = request.get_json(silent=True) or {}
        system, op = body.get("system"), body.get("op")
        if system not in SYSTEMS:
            return bad(f"system must be one of {', '.join(SYSTEMS)}")
        try:
            values = {k: _SWITCH_TYPES[k](body[k]) for k in SWITCH_KEYS if k in body}
        except (TypeError, ValueError):
            return bad("latency_ms and error_rate must be numbers, down a boolean")
        if not 0 <= values.get("error_rate", 0) <= 1:
            return bad("error_rate must be between 0 and 1")
        return jsonify({"system": system, "op": op, **state.set_switches(system, op, values)})

    @app.post("/_sandbox/failures")
    def failures() -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("system") not in SYSTEMS:
            return bad(f"system must be one of {', '.join(SYSTEMS)}")
        try:
            times = int(body.get("times", 1))
        except (TypeError, ValueError):
            times = 0
        if times == 0 or times < -1:
            return bad("times must be a positive count, or -1 for forever")
        if not body.get("status") and not body.get("delay_ms"):
            return bad("a failure needs a status, a delay_ms, or both")
        if body.get("match") is not None and not isinstance(body["match"], dict):
            return bad("match must be an object of top-level body keys to values")
        failure = {"system": body["system"], "op": body.get("op"), "status": body.get("status"),
                   "times": times, "body": body.get("body"),
                   "retry_after": body.get("retry_after"), "match": body.get("match"),
                   "delay_ms": body.get("delay_ms")}
        state.add_failure(failure)
        return jsonify(failure)

    @app.post("/_sandbox/auth")
    def auth() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return bad("body must be an object of dacs_auth / derms_auth / oauth_clients")
        with state.lock:
            for key in ("dacs_auth", "derms_auth", "oauth_clients"):
                if key in body:
                    state.auth[key] = body[key]
            configured = sorted(k for k, v in state.auth.items() if v)
        return jsonify({"status": "OK", "configured": configured})

    @app.get("/_sandbox/calls")
    def calls() -> Response:
        found = state.list_calls(request.args.get("system") or None,
                                 request.args.get("op") or None)
        return jsonify({"count": len(found), "calls": found})

    @app.get("/_sandbox/state")
    def summary() -> Response:
        with_ids = request.args.get("record_ids", "").lower() in ("1", "true", "yes")
        return jsonify(state.summary(with_ids=with_ids))
