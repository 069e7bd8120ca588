"""The process-wide runtime: the loaded config and the things built from it, made on first use.

The CLI (``hub web``, ``hub worker`` ...) and the test fixtures call :func:`init` once with a
loaded :class:`~hub.config.Config`; tasks and routes call :func:`get`. Nothing is built at import.
"""

from __future__ import annotations

import threading
from functools import cached_property

from hub.clients import HttpTarget, make_target
from hub.config import Config
from hub.ledger import Ledger

__all__ = ["Runtime", "init", "get"]


class Runtime:
    def __init__(self, config: Config):
        self.config = config
        self._lock = threading.Lock()

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.config.database_url)

    @cached_property
    def dacs(self) -> HttpTarget:
        return make_target(self.config, "dacs")

    @cached_property
    def derms(self) -> HttpTarget:
        return make_target(self.config, "derms")

    def after_fork(self) -> None:
        """In a forked worker child: never reuse the parent's sockets or pooled connections."""
        if "ledger" in self.__dict__:
            self.ledger.dispose()
        for name in ("dacs", "derms"):
            target = self.__dict__.pop(name, None)
            if target is not None:
                target.session.close()


_current: Runtime | None = None


def init(config: Config) -> Runtime:
    """Make ``config`` the process's configuration, configuring the Celery app from it too."""
    global _current
    _current = Runtime(config)
    from tasks.app import configure_celery

    configure_celery(config)
    return _current


def get() -> Runtime:
    if _current is None:
        raise RuntimeError("hub.runtime.init(config) has not been called in this process")
    return _current
