"""The embedded broker (``tasks._embedded_broker``): kombu's filesystem transport, made safe
between processes. Each test races real processes on one broker folder, as ``hub up`` does."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path
from queue import Empty
from typing import Any

import kombu
import pytest

TRANSPORT = "tasks._embedded_broker:Transport"


def _connection(folder: Path) -> kombu.Connection:
    return kombu.Connection("filesystem://", transport=TRANSPORT, transport_options={
        "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control")})


def _make_folder(folder: Path) -> Path:
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def _bind_at(folder: Path, queue: str, start: float) -> None:
    time.sleep(max(0.0, start - time.time()))
    with _connection(folder) as conn:
        conn.default_channel._queue_bind("reply.celery.pidbox", "", "", queue)


def test_processes_binding_together_leave_one_whole_exchange_table(tmp_path: Path) -> None:
    """Flower and the workers bind to the control exchanges at once when ``hub up`` starts.

    With kombu's own transport about one round in twenty left a table of two JSON values
    ("Extra data"), and every later ping failed.
    """
    context = multiprocessing.get_context("fork")
    for round_ in range(30):
        folder = _make_folder(tmp_path / f"round-{round_}")
        start = time.time() + 0.2
        binders = [context.Process(target=_bind_at, args=(folder, f"q{i}", start))
                   for i in range(4)]
        for process in binders:
            process.start()
        for process in binders:
            process.join(10)
        assert [p.exitcode for p in binders] == [0] * 4, f"round {round_}"
        table = json.loads((folder / "control" / "reply.celery.pidbox.exchange").read_text())
        assert sorted(queue for _key, _pattern, queue in table) == ["q0", "q1", "q2", "q3"]


def test_a_table_damaged_by_an_older_version_is_read_and_repaired(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path)
    table = folder / "control" / "celery.pidbox.exchange"
    table.write_text('[["", "", "a.celery.pidbox"]] ["", "", "b.celery.pidbox"]]')
    with _connection(folder) as conn:
        channel = conn.default_channel
        assert [b.queue for b in channel.get_table("celery.pidbox")] == ["a.celery.pidbox"]
        channel._queue_bind("celery.pidbox", "", "", "c.celery.pidbox")
    assert [q for _k, _p, q in json.loads(table.read_text())] == [
        "c.celery.pidbox", "a.celery.pidbox"]


def test_an_unbind_rewrites_the_table_and_tolerates_an_empty_or_missing_one(
        tmp_path: Path) -> None:
    folder = _make_folder(tmp_path)
    table = folder / "control" / "reply.celery.pidbox.exchange"
    with _connection(folder) as conn:
        channel = conn.default_channel
        channel._delete("x", "reply.celery.pidbox", "", "")  # no table yet: nothing to do
        assert not table.exists()
        for queue in ("a", "b"):
            channel._queue_bind("reply.celery.pidbox", "", "", queue)
        channel._delete("a", "reply.celery.pidbox", "", "")
        assert json.loads(table.read_text()) == [["", "", "b"]]
        table.write_text("")  # as another process's bind leaves it for a moment
        channel._delete("b", "reply.celery.pidbox", "", "")
        assert json.loads(table.read_text()) == []


def _produce(folder: Path, count: int) -> None:
    with _connection(folder) as conn:
        for i in range(count):
            conn.default_channel._put("hub", {"i": i, "pad": "x" * 2_000_000})


def _consume(folder: Path, written: Any, results: Any) -> None:
    got: list[int] = []
    errors: list[str] = []
    deadline = time.time() + 60
    with _connection(folder) as conn:
        while time.time() < deadline:
            try:
                got.append(conn.default_channel._get("hub")["i"])
            except Empty:
                if written.is_set():
                    break  # the writer is done and the queue is empty
            except Exception as exc:  # noqa: BLE001 - counted: a cut message is the failure
                errors.append(type(exc).__name__)
    results.put((got, errors))


@pytest.mark.parametrize("consumers", [1, 2])
def test_every_message_arrives_whole_and_once_while_being_written(
        tmp_path: Path, consumers: int) -> None:
    """A consumer polling while a large message is written never reads it cut short.

    With kombu's own transport every one of these 2 MB messages was read before its writer
    finished (JSONDecodeError), and the message was gone.
    """
    folder = _make_folder(tmp_path)
    count = 30
    context = multiprocessing.get_context("fork")
    results, written = context.Queue(), context.Event()
    readers = [context.Process(target=_consume, args=(folder, written, results))
               for _ in range(consumers)]
    for reader in readers:
        reader.start()
    writer = context.Process(target=_produce, args=(folder, count))
    writer.start()
    writer.join(60)
    written.set()
    parts = [results.get(timeout=90) for _ in readers]
    for reader in readers:
        reader.join(10)
    got = [i for part, _ in parts for i in part]
    errors = [e for _, part in parts for e in part]
    assert errors == []
    assert sorted(got) == list(range(count))  # each message once, none lost
    assert list((folder / "queue").iterdir()) == []
    assert list((folder / "processed").iterdir()) == []  # taken messages are deleted once read


def test_a_channel_makes_the_folder_it_takes_messages_into(tmp_path: Path) -> None:
    (tmp_path / "queue").mkdir()
    with _connection(tmp_path) as conn:
        conn.default_channel._put("hub", {"i": 1})
        assert conn.default_channel._get("hub") == {"i": 1}
    assert (tmp_path / "processed").is_dir()
