"""Simulated DACS and DERMS for tests, demos and ``hub up --sandbox``.

One Flask app serves DACS under ``/dacs``, DERMS under ``/derms``, an OAuth2 token endpoint at
``/oauth2/token`` and a control API under ``/_sandbox`` (see docs/sandbox.md).
"""

from hub.sandbox.app import create_sandbox_app
from hub.sandbox.control import SandboxControl
from hub.sandbox.server import SandboxServer, run_sandbox_forever, serve_sandbox

__all__ = ["create_sandbox_app", "serve_sandbox", "run_sandbox_forever", "SandboxServer",
           "SandboxControl"]
