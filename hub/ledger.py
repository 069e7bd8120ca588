"""The ledger: the hub's own record of jobs, idempotency keys, segments, dead letters and claims.

The ledger, not the broker, is the source of truth. SQLite by default (WAL mode, so the front door
and the workers can share it from several processes), PostgreSQL by URL. The schema is created on
start with ``create_all``; there is no migration tool yet (see docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

__all__ = ["Ledger", "JobStatus", "utcnow", "iso", "parse_iso"]

#: the PostgreSQL advisory lock key that serialises schema creation (any fixed 64-bit number)
_SCHEMA_LOCK = 0x6875622D736368


class JobStatus:
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    FINISHED = (SUCCEEDED, FAILED)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the contract writes times."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite gives naive datetimes back; they were stored as UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time (``Z`` allowed; UTC when it names no zone). ValueError otherwise."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


metadata = MetaData()
TS = DateTime(timezone=True)

jobs = Table(
    "jobs", metadata,
    Column("id", String(128), primary_key=True),
    Column("flow", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("client", String(32)),
    Column("message_id", String(256)),
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("input", JSON),       # the stored input reference: the message, or a staged-file key
    Column("result", JSON),
    Column("errors", JSON),
    Column("created_at", TS, nullable=False, index=True),
    Column("updated_at", TS, nullable=False),
)

idempotency = Table(
    "idempotency_keys", metadata,
    Column("flow", String(64), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("job_id", String(128), nullable=False),
    Column("created_at", TS, nullable=False),
)

# One row per segment (chunk) of a file job; the unit that is posted, retried and re-queued.
chunks = Table(
    "chunks", metadata,
    Column("job_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("status", String(16), nullable=False),  # PENDING, DONE, FAILED
    Column("ref", JSON, nullable=False),            # staged key + row/byte range
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("updated_at", TS, nullable=False),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", String(36), primary_key=True),
    Column("flow", String(64), nullable=False, index=True),
    Column("job_id", String(128), index=True),
    Column("step", String(128), nullable=False),    # the registered task name
    Column("input", JSON, nullable=False),          # {"args": [...], "kwargs": {...}}: a reference
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("status", String(16), nullable=False, index=True),  # OPEN, REQUEUED, DISCARDED
    Column("created_at", TS, nullable=False, index=True),
    Column("resolved_at", TS),
)

file_claims = Table(
    "file_claims", metadata,
    Column("source", String(512), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # CLAIMED, SENT, ERROR
    Column("expires_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# A job's timeline: steps, outbound calls and state changes, for the ops pages.
events = Table(
    "job_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(128), nullable=False, index=True),
    Column("at", TS, nullable=False),
    Column("kind", String(16), nullable=False),  # step, call, state, email
    Column("name", String(256), nullable=False),
    Column("status", String(32)),
    Column("detail", JSON),
)


# Beat's last run of each schedule entry, recorded by ``hub beat`` as it sends (for /ops/schedule).
schedule_runs = Table(
    "schedule_runs", metadata,
    Column("name", String(128), primary_key=True),  # the entry's name in beat_schedule.build
    Column("task", String(128), nullable=False),
    Column("task_id", String(155)),
    Column("last_run_at", TS, nullable=False),
    Column("runs", Integer, nullable=False, default=0),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: every later statement, the journal mode switch included, waits for
    # another process's lock instead of failing with "database is locked".
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets readers and one writer work at once across processes. The mode is stored in the
    # file, so only the first connection to a new file switches it; switching needs a moment
    # with no other writer, which busy_timeout alone does not always wait for.
    for attempt in range(50):
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() == "wal":
            break
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _row(row: Any) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


class Ledger:
    """Access to the ledger tables. One instance per process; safe to share between threads."""

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        if create:
            self.create_schema()

    def create_schema(self) -> None:
        """Create the missing tables, one process at a time.

        The door, the workers and Beat all start on the same new database. ``create_all``
        checks which tables exist and then creates the others, so two processes doing it at once
        both try some table and one fails. Each takes a database-wide lock first instead: SQLite's
        write lock (``BEGIN IMMEDIATE``), or a PostgreSQL advisory lock held to the commit.
        """
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif self.engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            metadata.create_all(conn)
            conn.commit()

    def dispose(self) -> None:
        """Drop pooled connections; call in a forked child so it never shares its parent's."""
        self.engine.dispose(close=False)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # -- jobs ---------------------------------------------------------------------------------
    def create_job(self, job_id: str, flow: str, *, client: str | None = None,
                   message_id: str | None = None, input: Any = None, total: int = 0) -> None:
        now = utcnow()
        with self.begin() as conn:
            conn.execute(insert(jobs).values(
                id=job_id, flow=flow, status=JobStatus.QUEUED, client=client,
                message_id=message_id, done=0, total=total, input=input, result=None,
                errors=None, created_at=now, updated_at=now))
            conn.execute(insert(events).values(job_id=job_id, at=now, kind="state",
                                               name="accepted", status=JobStatus.QUEUED))

    def job_exists(self, job_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).first() is not None

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return _row(conn.execute(select(jobs).where(jobs.c.id == job_id)).first())

    def list_jobs(self, *, flow: str | None = None, status: str | None = None,
                  since: dt.datetime | None = None, limit: int = 100,
                  client: str | None = None) -> list[dict[str, Any]]:
        query = select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        for column, value in ((jobs.c.flow, flow), (jobs.c.status, status), (jobs.c.client, client)):
            if value:
                query = query.where(column == value)
        if since:
            query = query.where(jobs.c.created_at >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def set_job(self, job_id: str, *, status: str | None = None, result: Any = None,
                errors: Any = None, total: int | None = None, done: int | None = None) -> None:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if status is not None:
            values["status"] = status
        if result is not None:
            values["result"] = result
        if errors is not None:
            values["errors"] = errors
        if total is not None:
            values["total"] = total
        if done is not None:
            values["done"] = done
        with self.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
            if status is not None:
                conn.execute(insert(events).values(job_id=job_id, at=values["updated_at"],
                                                   kind="state", name="status", status=status))

    def add_event(self, job_id: str, kind: str, name: str, status: str | None = None,
                  detail: Any = None) -> None:
        with self.begin() as conn:
            conn.execute(insert(events).values(job_id=job_id, at=utcnow(), kind=kind, name=name,
                                               status=status, detail=detail))

    def job_events(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(events).where(events.c.job_id == job_id)
                                .order_by(events.c.id))
            return [dict(r._mapping) for r in rows]

    # -- idempotency --------------------------------------------------------------------------
    def claim_key(self, flow: str, key: str, job_id: str) -> str | None:
        """Bind ``key`` to ``job_id`` for ``flow``. Return None if bound now, else the earlier job id."""
        try:
            with self.begin() as conn:
                conn.execute(insert(idempotency).values(flow=flow, key=key, job_id=job_id,
                                                        created_at=utcnow()))
            return None
        except IntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(select(idempotency.c.job_id).where(
                    and_(idempotency.c.flow == flow, idempotency.c.key == key))).first()
            return row[0] if row else None

    def rebind_key(self, flow: str, key: str, old_job_id: str, new_job_id: str) -> bool:
        """Move ``key`` from a failed job to a new one; False if someone else moved it first."""
        with self.begin() as conn:
            moved = conn.execute(update(idempotency).where(and_(
                idempotency.c.flow == flow, idempotency.c.key == key,
                idempotency.c.job_id == old_job_id)).values(job_id=new_job_id))
            return moved.rowcount == 1

    def release_key(self, flow: str, key: str, job_id: str) -> None:
        """Forget a key whose job never got enqueued, so a retry of the request can be taken."""
        with self.begin() as conn:
            conn.execute(idempotency.delete().where(and_(
                idempotency.c.flow == flow, idempotency.c.key == key,
                idempotency.c.job_id == job_id)))

    # -- chunks (segments of file jobs) -------------------------------------------------------
    def add_chunks(self, job_id: str, refs: Sequence[Any]) -> None:
        now = utcnow()
        with self.begin() as conn:
            if refs:
                conn.execute(insert(chunks), [
                    {"job_id": job_id, "seq": seq, "status": "PENDING", "ref": ref,
                     "attempts": 0, "error": None, "updated_at": now}
                    for seq, ref in enumerate(refs)])
            conn.execute(update(jobs).where(jobs.c.id == job_id)
                         .values(total=len(refs), done=0, updated_at=now))

    def get_chunks(self, job_id: str, status: str | None = None) -> list[dict[str, Any]]:
        query = select(chunks).where(chunks.c.job_id == job_id).order_by(chunks.c.seq)
        if status:
            query = query.where(chunks.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def finish_chunk(self, job_id: str, seq: int, status: str, error: str | None = None) -> bool:
        """Record a segment's end. Returns False if it had already ended the same way (a redelivery).

        The job's ``done`` count is derived from the chunk rows in the same transaction, so a
        redelivered segment is never counted twice.
        """
        now = utcnow()
        with self.begin() as conn:
            changed = conn.execute(update(chunks).where(and_(
                chunks.c.job_id == job_id, chunks.c.seq == seq, chunks.c.status != status))
                .values(status=status, error=error, attempts=chunks.c.attempts + 1,
                        updated_at=now)).rowcount
            done = conn.execute(select(func.count()).select_from(chunks).where(and_(
                chunks.c.job_id == job_id, chunks.c.status != "PENDING"))).scalar_one()
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(done=done, updated_at=now))
            return changed == 1

    def reset_chunks(self, job_id: str, seqs: Sequence[int]) -> None:
        with self.begin() as conn:
            conn.execute(update(chunks).where(and_(chunks.c.job_id == job_id,
                                                   chunks.c.seq.in_(list(seqs))))
                         .values(status="PENDING", error=None, updated_at=utcnow()))

    def stale_chunks(self, older_than: dt.datetime) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(chunks).where(and_(
                chunks.c.status == "PENDING", chunks.c.updated_at < older_than)))
            return [dict(r._mapping) for r in rows]

    def touch_chunk(self, job_id: str, seq: int) -> None:
        with self.begin() as conn:
            conn.execute(update(chunks).where(and_(chunks.c.job_id == job_id, chunks.c.seq == seq))
                         .values(updated_at=utcnow()))

    def get_chunk(self, job_id: str, seq: int) -> dict[str, Any] | None:
        """One segment's row (a segment task checks it before posting: DONE means a redelivery)."""
        with self.engine.connect() as conn:
            return _row(conn.execute(select(chunks).where(and_(
                chunks.c.job_id == job_id, chunks.c.seq == seq))).first())

    def chunk_counts(self, job_id: str) -> dict[str, int]:
        """``{"PENDING": n, "DONE": n, "FAILED": n}`` for a job's segments, in one query."""
        counts = {"PENDING": 0, "DONE": 0, "FAILED": 0}
        with self.engine.connect() as conn:
            rows = conn.execute(select(chunks.c.status, func.count()).where(
                chunks.c.job_id == job_id).group_by(chunks.c.status))
            for status, count in rows:
                counts[status] = count
        return counts

    def idle_jobs(self, flows: Sequence[str], *, idle_before: dt.datetime,
                  since: dt.datetime) -> list[dict[str, Any]]:
        """Jobs of ``flows`` not SUCCEEDED whose last change is between ``since`` and
        ``idle_before``: the candidates the segment reconciler looks at."""
        query = select(jobs).where(and_(
            jobs.c.flow.in_(list(flows)), jobs.c.status != JobStatus.SUCCEEDED,
            jobs.c.updated_at < idle_before, jobs.c.updated_at >= since)).order_by(
            jobs.c.updated_at)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- dead letters -------------------------------------------------------------------------
    def add_dead_letter(self, *, flow: str, job_id: str | None, step: str, input: Any,
                        error: str, attempts: int) -> str:
        entry_id = str(uuid.uuid4())
        with self.begin() as conn:
            conn.execute(insert(dead_letters).values(
                id=entry_id, flow=flow, job_id=job_id, step=step, input=input, error=error[:4000],
                attempts=attempts, status="OPEN", created_at=utcnow(), resolved_at=None))
        return entry_id

    def list_dead_letters(self, *, flow: str | None = None, since: dt.datetime | None = None,
                          until: dt.datetime | None = None, status: str | None = "OPEN",
                          limit: int = 500, job_id: str | None = None) -> list[dict[str, Any]]:
        query = select(dead_letters).order_by(dead_letters.c.created_at.desc()).limit(limit)
        if status:
            query = query.where(dead_letters.c.status == status)
        if flow:
            query = query.where(dead_letters.c.flow == flow)
        if job_id:
            query = query.where(dead_letters.c.job_id == job_id)
        if since:
            query = query.where(dead_letters.c.created_at >= since)
        if until:
            query = query.where(dead_letters.c.created_at <= until)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def get_dead_letter(self, entry_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return _row(conn.execute(select(dead_letters).where(dead_letters.c.id == entry_id)).first())

    def resolve_dead_letter(self, entry_id: str, status: str) -> bool:
        """Move an OPEN entry to ``status``; False if it was not OPEN (a second click)."""
        with self.begin() as conn:
            return conn.execute(update(dead_letters).where(and_(
                dead_letters.c.id == entry_id, dead_letters.c.status == "OPEN"))
                .values(status=status, resolved_at=utcnow())).rowcount == 1

    def reopen_dead_letter(self, entry_id: str, from_status: str = "REQUEUED") -> bool:
        """Put an entry back to OPEN (its re-queue was not enqueued); False if not ``from_status``."""
        with self.begin() as conn:
            return conn.execute(update(dead_letters).where(and_(
                dead_letters.c.id == entry_id, dead_letters.c.status == from_status))
                .values(status="OPEN", resolved_at=None)).rowcount == 1

    def count_dead_letters(self, status: str = "OPEN") -> dict[str, int]:
        """How many entries are in ``status``, by flow (for /metrics and the ops pages)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(dead_letters.c.flow, func.count())
                                .where(dead_letters.c.status == status)
                                .group_by(dead_letters.c.flow))
            return {flow: count for flow, count in rows}

    # -- schedule runs (written by hub beat) ----------------------------------------------------
    def mark_schedule_run(self, name: str, task: str, task_id: str | None) -> None:
        """Record that Beat sent entry ``name`` now."""
        now = utcnow()
        bump = (update(schedule_runs).where(schedule_runs.c.name == name)
                .values(task=task, task_id=task_id, last_run_at=now, runs=schedule_runs.c.runs + 1))
        with self.begin() as conn:
            if conn.execute(bump).rowcount:
                return
        try:
            with self.begin() as conn:
                conn.execute(insert(schedule_runs).values(name=name, task=task, task_id=task_id,
                                                          last_run_at=now, runs=1))
        except IntegrityError:  # only one Beat runs, but a race must not lose the mark
            with self.begin() as conn:
                conn.execute(bump)

    def schedule_runs(self) -> dict[str, dict[str, Any]]:
        """The last run of every schedule entry Beat has sent, by entry name."""
        with self.engine.connect() as conn:
            return {r.name: dict(r._mapping) for r in conn.execute(select(schedule_runs))}

    # -- housekeeping ---------------------------------------------------------------------------
    def prune(self, before: dt.datetime) -> dict[str, int]:
        """Delete what is older than ``before`` and no longer needed: finished jobs (with their
        segments and timeline), idempotency keys, resolved dead letters and finished file claims.

        Open dead letters, unfinished jobs and held claims are kept whatever their age.
        """
        finished = select(jobs.c.id).where(and_(jobs.c.status.in_(JobStatus.FINISHED),
                                                jobs.c.updated_at < before))
        unfinished = select(jobs.c.id).where(jobs.c.status.not_in(JobStatus.FINISHED))
        with self.begin() as conn:
            counts = {
                "chunks": conn.execute(chunks.delete().where(
                    chunks.c.job_id.in_(finished))).rowcount,
                "events": conn.execute(events.delete().where(
                    events.c.job_id.in_(finished))).rowcount,
                "jobs": conn.execute(jobs.delete().where(jobs.c.id.in_(finished))).rowcount,
                "idempotencyKeys": conn.execute(idempotency.delete().where(and_(
                    idempotency.c.created_at < before,
                    idempotency.c.job_id.not_in(unfinished)))).rowcount,
                "deadLetters": conn.execute(dead_letters.delete().where(and_(
                    dead_letters.c.status != "OPEN", dead_letters.c.resolved_at < before)))
                .rowcount,
                "fileClaims": conn.execute(file_claims.delete().where(and_(
                    file_claims.c.status != "CLAIMED", file_claims.c.updated_at < before)))
                .rowcount,
            }
        return counts

    # -- file claims --------------------------------------------------------------------------
    def claim_file(self, source: str, name: str, owner: str, lease: dt.timedelta) -> bool:
        """Claim a remote file before reading it. True if this owner holds the claim now."""
        now = utcnow()
        try:
            with self.begin() as conn:
                conn.execute(insert(file_claims).values(source=source, name=name, owner=owner,
                                                        status="CLAIMED", expires_at=now + lease,
                                                        updated_at=now))
            return True
        except IntegrityError:
            with self.begin() as conn:
                # An expired claim (its worker died) may be taken over; a finished one may not.
                taken = conn.execute(update(file_claims).where(and_(
                    file_claims.c.source == source, file_claims.c.name == name,
                    file_claims.c.status == "CLAIMED", file_claims.c.expires_at < now))
                    .values(owner=owner, expires_at=now + lease, updated_at=now)).rowcount
            return taken == 1

    def renew_claim(self, source: str, name: str, owner: str, lease: dt.timedelta) -> bool:
        """Extend a held claim; False if this owner no longer holds it."""
        now = utcnow()
        with self.begin() as conn:
            return conn.execute(update(file_claims).where(and_(
                file_claims.c.source == source, file_claims.c.name == name,
                file_claims.c.owner == owner, file_claims.c.status == "CLAIMED"))
                .values(expires_at=now + lease, updated_at=now)).rowcount == 1

    def release_claim(self, source: str, name: str, owner: str) -> None:
        with self.begin() as conn:
            conn.execute(file_claims.delete().where(and_(
                file_claims.c.source == source, file_claims.c.name == name,
                file_claims.c.owner == owner)))

    def get_claim(self, source: str, name: str) -> dict[str, Any] | None:
        """The claim row, if any (the ops pages show who holds Beat's lock)."""
        with self.engine.connect() as conn:
            return _row(conn.execute(select(file_claims).where(and_(
                file_claims.c.source == source, file_claims.c.name == name))).first())

    def finish_claim(self, source: str, name: str, owner: str, status: str) -> None:
        with self.begin() as conn:
            conn.execute(update(file_claims).where(and_(
                file_claims.c.source == source, file_claims.c.name == name,
                file_claims.c.owner == owner)).values(status=status, updated_at=utcnow()))
