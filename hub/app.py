"""The front door: the Flask app factory."""

from __future__ import annotations

import importlib
import pkgutil
import uuid

from flask import Flask, Response, g, request

from hub import runtime
from hub.config import Config, load_config
from hub.errors import install_error_handlers
from hub.intake import CORRELATION_RE

__all__ = ["create_app"]


def create_app(config: Config | None = None) -> Flask:
    """Build the front door. ``config`` defaults to :func:`hub.config.load_config` (file + env)."""
    config = config or load_config()
    if runtime._current is None or runtime._current.config is not config:
        runtime.init(config)
    runtime.get().ledger  # noqa: B018 - create the schema now, not on the first request

    app = Flask(__name__)
    app.config["HUB"] = config
    app.config["MAX_CONTENT_LENGTH"] = config["upload.max.bytes"]
    # Multipart parts other than files are kept in memory: keep them small.
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.before_request
    def _correlation() -> None:
        given = request.headers.get("X-Correlation-ID", "").strip()
        g.correlation_id = given if CORRELATION_RE.match(given) else str(uuid.uuid4())
        from hub.logs import _correlation

        g._correlation_token = _correlation.set(g.correlation_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        if getattr(g, "correlation_id", None):
            response.headers["X-Correlation-ID"] = g.correlation_id
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        token = g.pop("_correlation_token", None)
        if token is not None:
            from hub.logs import _correlation

            _correlation.reset(token)

    install_error_handlers(app)
    register_routes(app)
    return app


def register_routes(app: Flask) -> None:
    """Import every module of ``hub.routes`` and register its blueprint ``bp``: found, not listed."""
    import hub.routes

    for info in sorted(pkgutil.iter_modules(hub.routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"hub.routes.{info.name}")
        blueprint = getattr(module, "bp", None)
        if blueprint is not None:
            app.register_blueprint(blueprint)
