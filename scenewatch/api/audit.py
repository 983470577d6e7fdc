"""The audit log: append-only, hash-chained, viewable and exportable by admins only.

Each row stores ``hash = sha256(prev_hash + canonical JSON of {ts, user, action, target, detail})``
with ``prev_hash`` the hash of the row before (64 zeros for the first). Changing, deleting or
reordering any row breaks every later link, which ``verify`` reports with the first bad row.
``prev_hash`` is unique in the table, so two writers racing for the same tail cannot fork the
chain: the loser retries on the new tail.
"""

from __future__ import annotations

import atexit
import csv
import hashlib
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from scenewatch.store.schema import audit_log

GENESIS = "0" * 64
ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "search",
    "clip_view",
    "export",
    "config_change",
    "event_state",
    "user_change",
)
log = logging.getLogger(__name__)
_lock = threading.Lock()  # one writer per process; the unique prev_hash guards across processes


def canonical(ts: float, user: str, action: str, target: str, detail: dict[str, Any]) -> str:
    """Sorted keys, no spaces, floats as repr: the same bytes on every machine."""
    body = {"ts": ts, "user": user, "action": action, "target": target, "detail": detail}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(prev_hash: str, ts: float, user: str, action: str, target: str, detail: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(ts, user, action, target, detail)).encode()).hexdigest()


def append(engine: Engine, user: str, action: str, target: str, detail: dict[str, Any] | None = None) -> str:
    """Record one action now (committed when this returns); returns its hash."""
    flush(engine)  # records queued by ``append_later`` first: the chain keeps the order of actions
    detail = json.loads(json.dumps(detail or {}, default=str))  # what the database will give back
    return _write(engine, [(time.time(), user, action, target, detail)])[-1]


def append_later(
    engine: Engine, user: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Record one action without waiting for the database: one writer thread per engine appends the
    queued records in batches (one transaction each, same chain). Reading the log (``rows``,
    ``verify``, exports), ``append`` and ``flush`` wait for the queue first; the server flushes it
    on shutdown. For frequent read actions (searches), so requests never queue on SQLite's writer."""
    detail = json.loads(json.dumps(detail or {}, default=str))
    _submit(engine, (time.time(), user, action, target, detail))


def flush(engine: Engine, timeout: float = 30.0) -> None:
    """Wait until every record queued for ``engine`` by ``append_later`` is committed."""
    with _writers_lock:
        writer = _writers.get(engine)
    if writer is not None:
        writer.flush(timeout)


def flush_all(timeout: float = 30.0) -> None:
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        writer.flush(timeout)


Record = tuple[float, str, str, str, dict[str, Any]]


def _write(engine: Engine, records: list[Record]) -> list[str]:
    """Append ``records`` in one transaction, chained onto the current tail; their hashes."""
    for _attempt in range(20):
        try:
            with _lock, engine.begin() as conn:
                prev = (
                    conn.scalar(select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)) or GENESIS
                )
                values = []
                for ts, user, action, target, detail in records:
                    digest = link(prev, ts, user, action, target, detail)
                    values.append(
                        {
                            "ts": ts,
                            "user": user,
                            "action": action,
                            "target": target,
                            "detail": detail,
                            "prev_hash": prev,
                            "hash": digest,
                        }
                    )
                    prev = digest
                if len(values) == 1:
                    conn.execute(insert(audit_log).values(**values[0]))
                else:
                    conn.execute(insert(audit_log), values)
            return [v["hash"] for v in values]
        except IntegrityError:  # another process took this tail first: retry on the new tail
            continue
    raise RuntimeError("audit log: could not append after 20 tries")


class _Writer:
    """The one thread that appends queued records of one engine, in batches."""

    IDLE_EXIT_S = 10.0
    MAX_BATCH = 500

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pending: list[Record] = []
        self.busy = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self.thread.start()

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while (self.pending or self.busy) and self.thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("audit log: queued records were not written in time")
                self.cond.wait(left)

    def _run(self) -> None:
        while True:
            with self.cond:
                if not self.pending:
                    self.cond.wait(self.IDLE_EXIT_S)
                idle = not self.pending
            if idle:
                with _writers_lock, self.cond:  # the order submitters take them in
                    if not self.pending:  # idle: leave; the next record starts a new writer
                        if _writers.get(self.engine) is self:
                            del _writers[self.engine]
                        self.cond.notify_all()
                        return
                continue
            with self.cond:
                batch, self.pending = self.pending[: self.MAX_BATCH], self.pending[self.MAX_BATCH :]
                self.busy = True
            try:
                _write(self.engine, batch)
            except Exception:
                log.exception("audit log: writing %d queued records failed; retrying", len(batch))
                time.sleep(0.5)
                with self.cond:
                    self.pending[:0] = batch  # keep them, in order
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()


_writers: dict[Engine, _Writer] = {}
_writers_lock = threading.Lock()


def _submit(engine: Engine, record: Record) -> None:
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = _Writer(engine)
        with writer.cond:
            writer.pending.append(record)
            writer.cond.notify_all()


atexit.register(flush_all)


def rows(
    engine: Engine,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    user: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first, paged by ``before_id``."""
    flush(engine)
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if user is not None:
        query = query.where(audit_log.c.user == user)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _all(engine: Engine, batch: int = 1000) -> Iterator[dict[str, Any]]:
    flush(engine)
    last = 0
    while True:
        with engine.connect() as conn:
            chunk = [
                dict(r._mapping)
                for r in conn.execute(
                    select(audit_log).where(audit_log.c.id > last).order_by(audit_log.c.id).limit(batch)
                )
            ]
        yield from chunk
        if len(chunk) < batch:
            return
        last = chunk[-1]["id"]


def verify(engine: Engine) -> dict[str, Any]:
    """Walk the chain from the first row: ``{"ok", "rows", "head", "first_bad", "reason"}``."""
    prev = GENESIS
    count = 0
    for row in _all(engine):
        count += 1
        if row["prev_hash"] != prev:
            return _bad(count, row, prev, "the row before it was changed, deleted or reordered")
        expected = link(prev, row["ts"], row["user"], row["action"], row["target"], row["detail"])
        if row["hash"] != expected:
            return _bad(count, row, prev, "the row itself was changed")
        prev = row["hash"]
    return {"ok": True, "rows": count, "head": prev, "first_bad": None, "reason": None}


def _bad(count: int, row: dict, head: str, reason: str) -> dict[str, Any]:
    return {"ok": False, "rows": count, "head": head, "first_bad": row["id"], "reason": reason}


def export_jsonl(engine: Engine) -> Iterator[str]:
    """Every row, oldest first, one JSON object a line: re-verifiable outside SceneWatch."""
    for row in _all(engine):
        yield json.dumps(row, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def export_csv(engine: Engine) -> Iterator[str]:
    fields = ["id", "ts", "user", "action", "target", "detail", "prev_hash", "hash"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in _all(engine):
        writer.writerow([json.dumps(row[f], sort_keys=True) if f == "detail" else row[f] for f in fields])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
