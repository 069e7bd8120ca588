"""The Celery app's settings: the ones that keep work safe, and where each flow's tasks queue."""

from __future__ import annotations

from pathlib import Path

import pytest
import support

from hub import runtime
from tasks.app import celery_app, configure_celery


@pytest.fixture
def redis_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = support.make_config(support.door_overrides(
        tmp_path / "var", **{"broker.url": support.REDIS_URL, "result.backend": support.REDIS_URL,
                             "task.time.limit.seconds": 900}))
    yield configure_celery(config)
    # Back to whatever hub the other tests' runtime is wired to (the app is process-wide).
    if runtime._current is not None:
        configure_celery(runtime._current.config)


def test_json_only_late_acks_and_a_visibility_timeout_above_the_time_limit(redis_app) -> None:  # type: ignore[no-untyped-def]
    conf = redis_app.conf
    assert conf.task_serializer == conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"] and list(conf.result_accept_content) == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.result_expires.total_seconds() > 0
    assert conf.broker_transport_options["visibility_timeout"] >= 2 * conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit == 900


@pytest.mark.parametrize(("task", "queue"), [
    ("enrollment_sync.send", "hub"),
    # synchronous: its caller waits, so it must not queue behind files
    ("common_ftp_transfer.put", "hub"),
    ("common_os_transfer.put", "hub"),
    ("event_device_reservation.segment", "hub.files"),
    ("event_device_outcome.start", "hub.files"),
    ("device_score.run", "hub.files"),
    ("sp_network_location.transfer", "hub.files"),
    ("common_errors.handle", "hub.mail"),
])
def test_bulk_file_work_and_mail_have_their_own_queues(redis_app, task: str, queue: str) -> None:  # type: ignore[no-untyped-def]
    assert task in celery_app.tasks  # a real task name, not a typo in this table
    route = celery_app.amqp.router.route({}, task)
    assert route["queue"].name == queue
