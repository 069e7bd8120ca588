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
        #: DACS targets other than ``dacs.base.url``, by base URL (the _Routing lookup's values)
        self._routed: dict[str, HttpTarget] = {}

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.config.database_url)

    @cached_property
    def dacs(self) -> HttpTarget:
        return make_target(self.config, "dacs")

    @cached_property
    def derms(self) -> HttpTarget:
        return make_target(self.config, "derms")

    def dacs_for(self, drms_instance_id: str | None) -> HttpTarget:
        """The DACS that serves a DERMS instance, by the _Routing lookup (``mappings/lookups``).

        No instance, or the row's marker ``dacs.base.url``, gives :attr:`dacs`. Another row's URL
        gives a target with that base URL and the same paths, timeout and credentials. An
        instance with no row raises :class:`mappings.lookups.UnknownInstance`.
        """
        if not drms_instance_id:
            return self.dacs
        from mappings import lookups

        base = lookups.load(self.config.get("lookups.dir")).dacs_base_url(drms_instance_id)
        if base is None:
            return self.dacs
        with self._lock:
            target = self._routed.get(base)
            if target is None:
                default = self.dacs
                target = HttpTarget("dacs", base, default.paths, timeout=default.timeout,
                                    basic=default.basic, oauth=default.oauth)
                self._routed[base] = target
            return target

    def after_fork(self) -> None:
        """In a forked worker child: never reuse the parent's sockets or pooled connections."""
        if "ledger" in self.__dict__:
            self.ledger.dispose()
        for name in ("dacs", "derms"):
            target = self.__dict__.pop(name, None)
            if target is not None:
                target.session.close()
        for target in self._routed.values():
            target.session.close()
        self._routed.clear()


_current: Runtime | None = None


def init(config: Config) -> Runtime:
    """Make ``config`` the process's configuration, configuring the Celery app from it too."""
    global _current
    _check_lookups(config)
    _current = Runtime(config)
    from tasks.app import configure_celery

    configure_celery(config)
    return _current


def _check_lookups(config: Config) -> None:
    """Read the value lookups now, so a bad site lookup stops the process at start."""
    from hub.config import ConfigError
    from mappings import lookups

    try:
        lookups.load(config.get("lookups.dir"))
    except lookups.LookupFileError as exc:
        raise ConfigError({"lookups.dir": str(exc)}) from exc


def get() -> Runtime:
    if _current is None:
        raise RuntimeError("hub.runtime.init(config) has not been called in this process")
    return _current
