"""The Celery app. Configured from the hub's config by :func:`configure_celery`, never at import.

``hub worker``, ``hub beat`` and ``hub flower`` load the config, call ``hub.runtime.init`` (which
calls this) and then start Celery programmatically, so no module reads the environment at import.
"""

from __future__ import annotations

import datetime as dt
import pkgutil

from celery import Celery
from celery.signals import worker_process_init

from hub.config import Config

__all__ = ["celery_app", "configure_celery", "queue_depth", "task_modules", "QUEUES",
           "TASK_ROUTES"]

celery_app = Celery("hub")

#: The queues: ordinary flow steps, file work (slow, bulk), and mail.
QUEUES = ("hub", "hub.files", "hub.mail")
#: Bulk file work goes to ``hub.files`` so that a 200 MB transfer or a file of 500k rows never
#: holds the worker slots the synchronous JSON flows wait on. The synchronous Common FTP / OS
#: Transfer steps stay on ``hub``: their caller is waiting, and must not queue behind a file.
TASK_ROUTES = {
    "event_device_*": {"queue": "hub.files"},
    "device_score.*": {"queue": "hub.files"},
    "sp_network_location.*": {"queue": "hub.files"},
    "common_errors.*": {"queue": "hub.mail"},
}


def task_modules() -> list[str]:
    """Every module under ``tasks/`` that defines tasks: one per flow, found, not listed."""
    import tasks

    return sorted(f"tasks.{m.name}" for m in pkgutil.iter_modules(tasks.__path__)
                  if m.name not in {"app", "base"} and not m.name.startswith("_"))


def configure_celery(config: Config) -> Celery:
    var = config.var_dir
    _forget_connections()
    transport_options: dict[str, object] = {}
    transport = None  # from the URL's scheme
    if config.embedded_broker:
        # kombu's filesystem transport with its races between processes fixed
        transport = "tasks._embedded_broker:Transport"
        broker_dir = var / "broker"
        for sub in ("queue", "processed", "control"):
            (broker_dir / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "processed_folder": str(broker_dir / "processed"),
            "control_folder": str(broker_dir / "control"),
            "store_processed": False,
            # The folder is polled; kombu's default (1 s) adds a second to every hop.
            "polling_interval": 0.1,
        }
    else:
        # Redis re-delivers an unacked message after visibility_timeout: keep it well above the
        # longest task's hard time limit, or a slow task would run twice at once.
        transport_options = {"visibility_timeout": config["task.time.limit.seconds"] * 4}
        if config.get("broker.key.prefix"):
            transport_options["global_keyprefix"] = config["broker.key.prefix"]
    if config.result_backend.startswith("db+sqlite"):
        var.mkdir(parents=True, exist_ok=True)
    celery_app.conf.update(
        broker_url=config.broker_url,
        broker_transport=transport,
        result_backend=config.result_backend,
        broker_transport_options=transport_options,
        result_backend_transport_options=transport_options if config.result_backend.startswith(
            "redis") else {},
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=dt.timedelta(days=1),
        result_extended=True,
        task_track_started=True,
        task_send_sent_event=True,
        worker_send_task_events=True,
        task_time_limit=config["task.time.limit.seconds"],
        task_soft_time_limit=max(1, config["task.time.limit.seconds"] - 30),
        task_default_queue="hub",
        task_routes=TASK_ROUTES,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        timezone="UTC",
        enable_utc=True,
        include=task_modules(),
        beat_schedule=_beat_schedule(config),
        beat_schedule_filename=str(var / "beat-schedule"),
    )
    celery_app.loader.import_default_modules()
    return celery_app


def queue_depth(queue: str = "hub") -> int:
    """Messages waiting in ``queue`` on the configured broker (for /metrics and the tests)."""
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def _forget_connections() -> None:
    """Drop cached producer pools and result backends, so a reconfigured app uses the new URLs.

    Only tests reconfigure a process (one stack on the embedded broker, then one on Redis).
    """
    import threading

    celery_app._after_fork()
    celery_app._backend_cache = None
    celery_app._local = threading.local()


def _beat_schedule(config: Config) -> dict[str, dict[str, object]]:
    import beat_schedule

    return beat_schedule.build(config)


@worker_process_init.connect
def _after_fork(**_: object) -> None:
    from hub import runtime

    try:
        runtime.get().after_fork()
    except RuntimeError:
        pass  # a worker started without hub.runtime.init has nothing to reset
