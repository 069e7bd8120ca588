"""The embedded broker: kombu's filesystem transport, with its files written and taken safely.

``hub up --sandbox`` and the embedded default run on kombu's filesystem transport (no server).
kombu 5.7's transport has three races between processes, all fixed here in a subclass that
``tasks.app.configure_celery`` selects with ``broker_transport``:

* **Exchange tables.** A fanout exchange (worker control, its replies, Flower's events) keeps
  its bindings as a JSON list in ``<control>/<exchange>.exchange``. kombu opens a new table with
  ``"wb"`` *before* it takes the lock, so two processes binding at once (Flower and a worker
  at start) cut each other's write short and leave two JSON values in the file. Every later
  ping and inspect on that exchange then fails with "Extra data" until the file is deleted: the
  ops health page showed the workers DOWN for the life of the stack (treeverse/dvc-task#73 saw
  the same). Here a bind opens without truncating, locks, then reads, rewrites and truncates
  under the lock (an unbind too); a table damaged by an older version is read up to its first
  complete value, and the next bind writes it whole again.
* **Messages.** kombu creates the message file under its final name and writes it afterwards,
  so a consumer could take the file before the writer finished and read a cut message (then
  the message is gone). Here a message is written under a temporary name that no queue
  matches, then renamed into place, which is atomic.
* **Taking a message.** kombu moves a message to the system temp folder to take it; across
  filesystems that is a copy, which two consumers can both make. Here it is renamed into the
  ``processed`` folder beside the queue (one filesystem, so exactly one consumer wins) and
  deleted once read.

Nothing else changes: same folders, same file names, same options.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.transport.filesystem import LOCK_EX, LOCK_SH, exchange_queue_t, lock, unlock
from kombu.utils.json import dumps, loads

__all__ = ["Transport", "Channel"]


def _read_table(raw: bytes) -> list[exchange_queue_t]:
    """An exchange table's bindings; from a damaged file, those of its first complete value."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return []
    try:
        value, _end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [exchange_queue_t(*item) for item in value
            if isinstance(item, list) and len(item) == 3]


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # once here, not on every poll: _get renames messages into it
        os.makedirs(self.processed_folder, exist_ok=True)

    def get_table(self, exchange: str) -> list[exchange_queue_t]:
        file = self._exchange_file(exchange)
        try:
            with file.open("rb") as table:
                lock(table, LOCK_SH)
                try:
                    return _read_table(table.read())
                finally:
                    unlock(table)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        binding = exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(bindings: list[exchange_queue_t]) -> None:
            if binding not in bindings:
                bindings.insert(0, binding)

        self._change_table(exchange, add, create=True)

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any,
                **kwargs: Any) -> None:
        self._purge(queue)  # what kombu's virtual channel does for a deleted queue
        binding = exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(bindings: list[exchange_queue_t]) -> None:
            if binding in bindings:
                bindings.remove(binding)

        self._change_table(exchange, remove, create=False)

    def _change_table(self, exchange: str, change: Callable[[list[exchange_queue_t]], None],
                      *, create: bool) -> None:
        """Read, change and rewrite an exchange table, all under its exclusive lock."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        # O_CREAT without O_TRUNC: opening never destroys what another process wrote. A table
        # just created is empty until its creator writes it under the lock; it reads as [].
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            fd = os.open(file, flags, 0o644)
        except FileNotFoundError:
            return  # unbinding from a table that is gone: nothing to change
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        with os.fdopen(fd, "rb+", buffering=0) as table:
            lock(table, LOCK_EX)
            try:
                raw = table.read()
                bindings = _read_table(raw)
                change(bindings)
                data = dumps(bindings).encode()
                if data != raw:
                    table.seek(0)
                    table.truncate()
                    table.write(data)
            except OSError as exc:
                raise ChannelError(f"Cannot write {file}") from exc
            finally:
                unlock(table)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "<uuid>.partial" never matches "<queue>.msg", so no consumer sees it half written
        partial = os.path.join(self.data_folder_out, f"{uuid.uuid4()}.partial")
        try:
            with open(partial, "wb") as message:
                message.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _get(self, queue: str) -> Any:
        wanted = f"{queue}.msg"
        taken_folder = self.processed_folder
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = os.path.join(taken_folder, name)
            try:
                # atomic on one filesystem: exactly one consumer takes each message
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue  # another consumer took it first
            try:
                with open(taken, "rb") as message:
                    payload = message.read()
                if not self.store_processed:
                    os.remove(taken)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {name!r} from queue.") from exc
            return loads(payload.decode())
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
