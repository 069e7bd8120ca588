"""Run the sandbox: in a background thread (tests, demos) or in the foreground (``hub up``)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from hub.sandbox.app import create_sandbox_app

__all__ = ["SandboxServer", "serve_sandbox", "run_sandbox_forever"]

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """No access line per request: a test run makes thousands; the call log has them all."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class SandboxServer:
    """A sandbox served by werkzeug's threaded server on a background thread."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self._server = server
        self.app = server.app
        self.port: int = server.server_port
        self.url = f"http://{server.server_address[0]}:{self.port}"
        self.dacs_url = f"{self.url}/dacs"
        self.derms_url = f"{self.url}/derms"
        self.token_url = f"{self.url}/oauth2/token"
        self._thread = threading.Thread(target=server.serve_forever, name=f"sandbox:{self.port}",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"SandboxServer({self.url!r})"

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_sandbox(host: str = "127.0.0.1", port: int = 0,
                  settings: dict[str, Any] | None = None) -> SandboxServer:
    """Start a sandbox on ``host:port`` (0: a free port) and return at once."""
    server = make_server(host, port, create_sandbox_app(settings), threaded=True,
                         request_handler=_QuietHandler)
    return SandboxServer(server)


def run_sandbox_forever(host: str = "127.0.0.1", port: int = 8081,
                        settings: dict[str, Any] | None = None) -> None:
    """Serve the sandbox in the foreground until SIGTERM or Ctrl-C."""
    server = make_server(host, port, create_sandbox_app(settings), threaded=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    thread.start()
    base = f"http://{host}:{server.server_port}"
    print(f"sandbox: DACS {base}/dacs  DERMS {base}/derms  tokens {base}/oauth2/token  "
          f"control {base}/_sandbox/state", flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
