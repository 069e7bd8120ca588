"""Outbound HTTP clients for DACS and DERMS.

One :class:`requests.Session` per target, with connection pooling and timeouts. Authentication is
HTTP Basic or OAuth2 client credentials (the token is cached until shortly before it expires).
A ``files=`` call streams its files from disk (:class:`MultipartStream`): ``requests`` would
build the whole multipart body in memory, and a device-score file can be hundreds of MB.

The client makes one attempt per call and classifies the outcome; the retrying is done by the
task (see ``tasks.base.HubTask``), so that every retry is visible in Flower and in the ledger:

* 2xx -> the decoded JSON body (or ``{}``);
* 5xx, 429, timeouts, connection errors -> :class:`TransientError` (429 carries ``retry_after``);
* any other status -> :class:`DownstreamError`, never retried.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import IO, Any, BinaryIO

import requests
from requests.adapters import HTTPAdapter

from hub.config import Config
from hub.logs import current_correlation_id

__all__ = ["DownstreamError", "TransientError", "HttpTarget", "MultipartStream", "OAuth2Token",
           "make_target"]

log = logging.getLogger(__name__)

#: File bytes read per step of a streamed upload.
STREAM_CHUNK = 256 * 1024


class DownstreamError(Exception):
    """The target answered with a non-retryable error (a 4xx other than 429, or a bad body)."""

    transient = False

    def __init__(self, target: str, op: str, status: int | None, message: str,
                 body: Any = None):
        self.target, self.op, self.status, self.message, self.body = target, op, status, message, body
        super().__init__(f"{target} {op}: HTTP {status}: {message}")

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "op": self.op, "status": self.status,
                "message": self.message, "transient": self.transient}


class TransientError(DownstreamError):
    """A failure worth retrying: 5xx, 429, a timeout or a connection error."""

    transient = True

    def __init__(self, target: str, op: str, status: int | None, message: str,
                 body: Any = None, retry_after: float | None = None):
        super().__init__(target, op, status, message, body)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _message(response: requests.Response) -> tuple[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:500], None
    if isinstance(body, dict):
        for key in ("message", "detail", "problemDetailedMessage", "error", "title"):
            if body.get(key):
                return str(body[key])[:500], body
    return str(body)[:500], body


def _quote(value: str) -> str:
    """A filename / field name for a Content-Disposition header, the way browsers write it
    (WHATWG HTML): '"' and line breaks percent-encoded, the rest raw UTF-8."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


class MultipartStream:
    """A ``multipart/form-data`` body read piece by piece from files on disk.

    ``parts`` are ``(field, filename, fileobj, content_type)``; each ``fileobj`` must be
    seekable (its size is taken with ``seek``), and is read from its current position. The
    length is known up front, so the request carries a ``Content-Length`` (some servers refuse
    chunked uploads). ``progress(bytes_sent)`` is called as file bytes are read.

    Deliberately not an ``io`` class: ``requests`` would take ``tell()`` / ``fileno()`` for the
    body's length. It sees ``read``, ``__iter__`` and ``__len__`` only.
    """

    def __init__(self, parts: list[tuple[str, str, BinaryIO, str]], *,
                 progress: Callable[[int], None] | None = None):
        self.boundary = f"hub-{uuid.uuid4().hex}"
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self._segments: list[bytes | tuple[BinaryIO, int]] = []
        self._length = 0
        for field, filename, fileobj, content_type in parts:
            head = (f"--{self.boundary}\r\n"
                    f'Content-Disposition: form-data; name="{_quote(field)}"; '
                    f'filename="{_quote(filename)}"\r\n'
                    f"Content-Type: {content_type}\r\n\r\n").encode()
            start = fileobj.tell()
            size = fileobj.seek(0, os.SEEK_END) - start
            fileobj.seek(start)
            self._segments += [head, (fileobj, size), b"\r\n"]
            self._length += len(head) + size + 2
        tail = f"--{self.boundary}--\r\n".encode()
        self._segments.append(tail)
        self._length += len(tail)
        self._index = 0
        self._offset = 0  # within the current bytes segment, or file bytes read so far
        self._sent = 0
        self._progress = progress

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for -1); ``b""`` at the end."""
        if size is None or size < 0:
            size = self._length
        out: list[bytes] = []
        wanted = size
        while wanted > 0 and self._index < len(self._segments):
            segment = self._segments[self._index]
            if isinstance(segment, bytes):
                piece = segment[self._offset:self._offset + wanted]
                self._offset += len(piece)
                done = self._offset >= len(segment)
            else:
                fileobj, total = segment
                piece = fileobj.read(min(wanted, total - self._offset, STREAM_CHUNK))
                if not piece and self._offset < total:
                    raise OSError(f"file shrank while being sent: {self._offset} of {total} "
                                  "bytes")
                self._offset += len(piece)
                self._sent += len(piece)
                if self._progress is not None and piece:
                    self._progress(self._sent)
                done = self._offset >= total
            out.append(piece)
            wanted -= len(piece)
            if done:
                self._index += 1
                self._offset = 0
        return b"".join(out)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(STREAM_CHUNK):
            yield chunk


@dataclass
class OAuth2Token:
    """OAuth2 client-credentials grant, cached until 30 s before it expires."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:  # never show the secret
        return f"OAuth2Token(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def get(self, session: requests.Session, target: str) -> str:
        with self._lock:
            if self._token and time.monotonic() < self._expires:
                return self._token
            data = {"grant_type": "client_credentials"}
            if self.scope:
                data["scope"] = self.scope
            try:
                response = session.post(self.token_url, data=data, timeout=self.timeout,
                                        auth=(self.client_id, self.client_secret))
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise TransientError(target, "oauth2_token", None, type(exc).__name__) from exc
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientError(target, "oauth2_token", response.status_code, "token endpoint")
            if response.status_code != 200:
                raise DownstreamError(target, "oauth2_token", response.status_code,
                                      "token request refused")
            body = response.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + max(0.0, float(body.get("expires_in", 300)) - 30)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


class HttpTarget:
    """One outbound system (DACS or DERMS): base URL, paths by operation, auth, a pooled session."""

    def __init__(self, name: str, base_url: str, paths: dict[str, str], *, timeout: float = 30.0,
                 basic: tuple[str, str] | None = None, oauth: OAuth2Token | None = None):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.paths = paths
        self.timeout = timeout
        self.basic = basic
        self.oauth = oauth
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"HttpTarget({self.name!r}, {self.base_url!r})"

    def url(self, op: str, **params: str) -> str:
        from urllib.parse import quote

        path = self.paths[op].format(**{k: quote(str(v), safe="") for k, v in params.items()})
        # Joined by hand: urljoin would drop a base path prefix such as /some/prefix.
        return self.base_url + "/" + path.lstrip("/")

    def call(self, op: str, *, method: str = "POST", json: Any = None,
             files: dict[str, tuple[str, IO[bytes], str]] | None = None,
             path_params: dict[str, str] | None = None,
             correlation_id: str | None = None,
             progress: Callable[[int], None] | None = None) -> tuple[int, Any]:
        """Make one call; return ``(status, json_body)`` on 2xx, raise on anything else.

        ``files`` (``{field: (filename, seekable fileobj, content type)}``) is streamed from each
        file's current position; ``progress(bytes_sent)`` is called as file bytes go out.
        """
        url = self.url(op, **(path_params or {}))
        headers = {"X-Correlation-ID": correlation_id or current_correlation_id() or "",
                   "Accept": "application/json"}
        data = None
        if files:
            data = MultipartStream([(field, name, fileobj, content_type)
                                    for field, (name, fileobj, content_type) in files.items()],
                                   progress=progress)
            headers["Content-Type"] = data.content_type
        auth = None
        if self.oauth is not None:
            headers["Authorization"] = "Bearer " + self.oauth.get(self.session, self.name)
        elif self.basic is not None:
            auth = self.basic
        started = time.monotonic()
        try:
            response = self.session.request(method, url, json=json, data=data, headers=headers,
                                            auth=auth, timeout=self.timeout)
        except requests.Timeout as exc:
            _count(self.name, op, "timeout")
            raise TransientError(self.name, op, None, f"timed out after {self.timeout:g}s") from exc
        except requests.ConnectionError as exc:
            _count(self.name, op, "connection-error")
            raise TransientError(self.name, op, None, "connection failed") from exc
        finally:
            elapsed = time.monotonic() - started
        status = response.status_code
        log.info("outbound call", extra={"target": self.name, "op": op, "status": status,
                                         "elapsed_ms": round(elapsed * 1000)})
        _count(self.name, op, str(status))
        if status == 401 and self.oauth is not None:
            self.oauth.invalidate()  # the next attempt fetches a fresh token
        if 200 <= status < 300:
            if not response.content:
                return status, {}
            try:
                return status, response.json()
            except ValueError:
                return status, {"text": response.text[:500]}
        message, body = _message(response)
        if status >= 500 or status == 429:
            raise TransientError(self.name, op, status, message, body,
                                 retry_after=_retry_after(response.headers.get("Retry-After")))
        raise DownstreamError(self.name, op, status, message, body)

    def close(self) -> None:
        self.session.close()


def _count(target: str, op: str, status: str) -> None:
    from hub import metrics

    metrics.OUTBOUND_CALLS.labels(target=target, op=op, status=status).inc()


def make_target(config: Config, name: str) -> HttpTarget:
    """Build the client of ``name`` ("dacs" or "derms") from the configuration."""
    base = config.get(f"{name}.base.url")
    if not base:
        raise ValueError(f"{name}.base.url is not set")
    prefix = f"{name}.path."
    paths = {key[len(prefix):]: value for key, value in config.values.items()
             if key.startswith(prefix)}
    timeout = float(config["http.timeout.seconds"])
    oauth = None
    if config.get(f"{name}.auth.token.url"):
        oauth = OAuth2Token(config[f"{name}.auth.token.url"], config[f"{name}.auth.client.id"],
                            config[f"{name}.auth.client.secret"], config.get(f"{name}.auth.scope"),
                            timeout=timeout)
    basic = None
    if config.get(f"{name}.auth.username"):
        basic = (config[f"{name}.auth.username"], config.get(f"{name}.auth.password") or "")
    return HttpTarget(name, base, paths, timeout=timeout, basic=basic, oauth=oauth)
