"""The audit log's writer: one thread per database appends whatever is queued in one transaction
(group commit), chained onto the current tail, and signs a checkpoint of the head at most once a
second. ``audit.py`` is the face the rest of the program uses.

Each row stores ``hash = sha256(prev_hash + canonical JSON of {ts, user, action, target, detail})``
with ``prev_hash`` the hash of the row before (64 zeros for the first), and ``mac``, a keyed MAC of
its id and hash. ``prev_hash`` and ``id`` are unique, so two writers racing for the same tail cannot
fork the chain: the loser retries on the new tail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from scenewatch.api.audit_anchor import Anchor, Checkpoint, row_mac
from scenewatch.errors import SceneWatchError
from scenewatch.store.db import no_wait_engine
from scenewatch.store.schema import audit_log

GENESIS = "0" * 64
RETRY_S = 5.0  # records nobody waits for (``append_later``) are retried this often while failing
CHECKPOINT_EVERY_S = 1.0  # at most one checkpoint line a second; the last one follows within that
log = logging.getLogger("scenewatch.api.audit")


class HasEngine(Protocol):
    root: Path
    engine: Engine


Database = Engine | HasEngine  # an engine, or a ``DataStore`` (whose data folder holds the key)


def engine_of(db: Database) -> Engine:
    return db if isinstance(db, Engine) else db.engine


def canonical(ts: float, user: str, action: str, target: str, detail: dict[str, Any]) -> str:
    """Sorted keys, no spaces, floats as repr: the same bytes on every machine."""
    body = {"ts": ts, "user": user, "action": action, "target": target, "detail": detail}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(prev_hash: str, ts: float, user: str, action: str, target: str, detail: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(ts, user, action, target, detail)).encode()).hexdigest()


def where(engine: Engine) -> str:
    """The database, in words, for messages (no password)."""
    if engine.url.get_backend_name() == "sqlite":
        return f"database file {engine.url.database}"
    return f"database {engine.url.render_as_string(hide_password=True)}"


class AuditUnavailable(SceneWatchError):
    """The record of an action cannot be written, so the action is refused (503 in the API)."""

    def __init__(self, message: str, hint: str | None = None, cause: str | None = None):
        super().__init__(message, hint)
        self.cause = cause


Record = tuple[float, str, str, str, dict[str, Any]]


@dataclass(eq=False)
class Entry:
    record: Record
    waited: bool  # someone waits: on failure they are told (refused), the record is not kept
    done: threading.Event = field(default_factory=threading.Event)
    digest: str | None = None  # set once committed
    wake: Callable[[], None] | None = None  # also told when done (a coroutine's event loop)


def make_record(user: str, action: str, target: str, detail: dict[str, Any] | None) -> Record:
    detail = json.loads(json.dumps(detail or {}, default=str))  # what the database will give back
    return (time.time(), user, action, target, detail)


class Chain:
    """One database's audit log: its anchor, its health, and its writer thread (while busy)."""

    def __init__(self, engine: Engine, anchor: Anchor):
        self._engine = weakref.ref(engine)  # the chain must not keep a dropped engine's pool open
        self.anchor = anchor
        self.failing: dict[str, str] = {}  # "database" / "checkpoints": why the last write failed
        self.writer: Writer | None = None
        self.last_checkpoint = 0.0  # monotonic time of this process's last checkpoint line
        self._no_wait: Engine | None = None

    @property
    def no_wait(self) -> Engine | None:
        """The database's connections that never wait for the write lock (``audit_loop``); None
        where it is not a SQLite file."""
        if self._no_wait is None:
            self._no_wait = no_wait_engine(self.engine)
        return self._no_wait

    @property
    def engine(self) -> Engine:
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the database was closed")
        return engine

    @property
    def closed(self) -> bool:
        return self._engine() is None

    def flush(self, timeout: float) -> int:
        writer = self.writer
        left = 0 if writer is None else writer.flush(timeout)
        if left:
            causes = "; ".join(self.failing.values())
            log.error("audit log: %d queued records are not written yet (%s)", left, causes)
        return left

    def submit(self, entry: Entry) -> Writer:
        with chains_lock:
            if self.writer is None:
                self.writer = Writer(self)
            writer = self.writer
            with writer.cond:
                writer.pending.append(entry)
                writer.cond.notify_all()
        return writer

    def committed_elsewhere(self, tail: tuple[int, str]) -> None:
        """Records up to ``tail`` (id, hash) were committed outside the writer (on an event loop):
        the writer checkpoints them."""
        with chains_lock:
            if self.writer is None:
                self.writer = Writer(self)
            with self.writer.cond:
                self.writer.owe(tail)
        self.recovered("database")

    def failed(self, part: str, exc: Exception) -> None:
        cause = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if part not in self.failing:  # once, not once per try
            place = where(self.engine) if part == "database" else f"checkpoint file {self.anchor.path}"
            refused = "audited actions are refused" if part == "database" else "truncation goes unseen"
            log.error("audit log: cannot write to %s (%s); %s until it can", place, cause, refused)
        self.failing[part] = cause

    def recovered(self, part: str) -> None:
        if self.failing.pop(part, None) is not None:
            place = where(self.engine) if part == "database" else f"checkpoint file {self.anchor.path}"
            log.warning("audit log: writing to %s again", place)


class Writer:
    """The thread that appends one database's queued records, in batches, and its checkpoints."""

    IDLE_EXIT_S = 10.0
    MAX_BATCH = 500

    def __init__(self, chain: Chain):
        self.chain = chain
        self.pending: list[Entry] = []
        self.busy = False
        self.force = False  # a flush asks for a try now (queued records, the owed checkpoint)
        self.forced = False  # the batch being written was asked for by a flush
        self.tries = 0
        self.retry_at = 0.0
        self.owed: tuple[int, str] | None = None  # (id, hash) of a tail not checkpointed yet
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self.thread.start()

    def cancel(self, entry: Entry) -> None:
        with self.cond, contextlib.suppress(ValueError):
            self.pending.remove(entry)

    def flush(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self.cond:
            start, self.force = self.tries, True
            self.cond.notify_all()
            while (self.pending or self.busy or self.owed) and self.thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0 or (self.chain.failing and self.tries > start and not self.busy):
                    break
                self.cond.wait(left)
            return len(self.pending)

    def owe(self, tail: tuple[int, str]) -> None:
        """A checkpoint is owed for ``tail`` (id, hash) unless one for a later row already is (the
        event loops commit records too). Called holding ``cond``."""
        if self.owed is None or tail[0] > self.owed[0]:
            self.owed = tail
            self.cond.notify_all()

    def _next(self) -> list[Entry] | None:
        """Wait for work: a batch to write ([] for only a checkpoint), or None to leave (idle)."""
        idle_since = time.monotonic()
        with self.cond:
            while True:
                now = time.monotonic()
                if self.pending and (
                    self.force
                    or "database" not in self.chain.failing
                    or now >= self.retry_at
                    or any(e.waited for e in self.pending)
                ):
                    batch, self.pending = self.pending[: self.MAX_BATCH], self.pending[self.MAX_BATCH :]
                    return self._take(batch)
                due = self.chain.last_checkpoint + CHECKPOINT_EVERY_S
                if self.owed and (self.force or now >= due):
                    return self._take([])
                if not self.pending and not self.owed and now - idle_since >= self.IDLE_EXIT_S:
                    return None
                waits = [self.IDLE_EXIT_S - (now - idle_since)]
                waits += [due - now] if self.owed else []
                waits += [self.retry_at - now] if self.pending else []
                self.cond.wait(max(0.01, min(waits)))

    def _take(self, batch: list[Entry]) -> list[Entry]:
        self.busy, self.forced, self.force = True, self.force, False
        return batch

    def _run(self) -> None:
        while not self.chain.closed:
            batch = self._next()
            if batch is None and self._leave():
                return
            if batch is None:
                continue
            try:
                self._work(batch)
            finally:
                with self.cond:
                    self.busy = False
                    self.tries += 1
                    self.cond.notify_all()

    def _leave(self) -> bool:
        with chains_lock, self.cond:  # the order ``submit`` takes them in
            if self.pending or self.owed:
                return False
            if self.chain.writer is self:  # the next record starts a new writer
                self.chain.writer = None
            self.cond.notify_all()
            return True

    def _work(self, batch: list[Entry]) -> None:
        chain = self.chain
        if batch:
            try:
                written = write_records(chain, [e.record for e in batch])
            except Exception as exc:  # any failure: refuse the waiting actions, keep the others
                chain.failed("database", exc)
                self.retry_at = time.monotonic() + RETRY_S
                with self.cond:
                    self.pending[:0] = [e for e in batch if not e.waited]
                release(batch)
                return
            for entry, (_row_id, digest) in zip(batch, written, strict=True):
                entry.digest = digest
            with self.cond:
                self.owe(written[-1])
            chain.recovered("database")
        if self.owed and (self.forced or time.monotonic() >= chain.last_checkpoint + CHECKPOINT_EVERY_S):
            try:
                self._checkpoint()
                chain.recovered("checkpoints")
            except Exception as exc:  # the records are committed; only the anchor lags
                if not chain.closed:  # a dropped engine owes nothing more
                    chain.failed("checkpoints", exc)
        release(batch)

    def _checkpoint(self) -> None:
        if self.owed is None:
            return
        row_id, head = self.owed
        chain = self.chain
        with chain.engine.connect() as conn:
            rows = conn.scalar(select(func.count()).select_from(audit_log).where(audit_log.c.id <= row_id))
            first = conn.scalar(select(func.min(audit_log.c.id)).where(audit_log.c.mac.is_not(None)))
        point = Checkpoint(
            id=row_id, rows=rows or 0, head=head, anchored_from=first or row_id, ts=time.time()
        )
        chain.anchor.write_checkpoint(chain.anchor.signing_key(chain_is_anchored=True), point)
        chain.last_checkpoint = time.monotonic()
        self.owed = None


def release(batch: list[Entry]) -> None:
    for entry in batch:
        entry.done.set()  # a kept record's event is never waited on
        if entry.wake is not None:
            with contextlib.suppress(RuntimeError):  # its event loop has closed: nobody waits
                entry.wake()


def write_records(chain: Chain, records: list[Record], engine: Engine | None = None) -> list[tuple[int, str]]:
    """Append ``records`` in one transaction, chained onto the current tail: their (id, hash).
    ``engine``: another way into the chain's database (one that never waits for the lock)."""
    for _attempt in range(20):
        try:
            with (engine or chain.engine).begin() as conn:
                # a write first: SQLite takes its write lock now, so the tail read next stays the tail
                conn.execute(update(audit_log).where(audit_log.c.id == -1).values(id=audit_log.c.id))
                tail = conn.execute(
                    select(audit_log.c.id, audit_log.c.hash, audit_log.c.mac)
                    .order_by(audit_log.c.id.desc())
                    .limit(1)
                ).first()
                key = chain.anchor.signing_key(chain_is_anchored=tail is not None and tail.mac is not None)
                row_id, prev = (tail.id, tail.hash) if tail is not None else (0, GENESIS)
                values: list[dict[str, Any]] = []
                for ts, user, action, target, detail in records:
                    row_id += 1
                    digest = link(prev, ts, user, action, target, detail)
                    values.append(
                        {
                            "id": row_id,
                            "ts": ts,
                            "user": user,
                            "action": action,
                            "target": target,
                            "detail": detail,
                            "prev_hash": prev,
                            "hash": digest,
                            "mac": row_mac(key, row_id, digest),
                        }
                    )
                    prev = digest
                conn.execute(insert(audit_log), values)
            return [(v["id"], v["hash"]) for v in values]
        except IntegrityError:  # another process took this tail first: retry on the new tail
            continue
    raise RuntimeError("could not append after 20 tries")


chains: weakref.WeakKeyDictionary[Engine, Chain] = weakref.WeakKeyDictionary()
chains_lock = threading.RLock()


def flush(db: Database, timeout: float = 30.0) -> int:
    """Wait until every queued record and checkpoint is written; while the database cannot be
    written, try once more and stop. Returns how many records are still queued (logged)."""
    with chains_lock:
        chain = chains.get(engine_of(db))
    return 0 if chain is None else chain.flush(timeout)


def attach(store: HasEngine) -> None:
    """Tie ``store.engine``'s audit log to the key and checkpoints of ``store.root``."""
    with chains_lock:
        chain = chains.get(store.engine)
        if chain is None or chain.anchor.root != Path(store.root):
            chains[store.engine] = Chain(store.engine, Anchor(store.root))


def chain_of(db: Database) -> Chain:
    """The chain of ``db``; a bare SQLite engine's key and checkpoints are beside its file."""
    if not isinstance(db, Engine):
        attach(db)
    engine = engine_of(db)
    with chains_lock:
        chain = chains.get(engine)
        if chain is None:
            if engine.url.get_backend_name() != "sqlite" or not engine.url.database:
                raise AuditUnavailable(
                    f"no data folder is known for the audit key of {where(engine)}",
                    "open the database through its data folder (DataStore)",
                    "no data folder",
                )
            chain = chains[engine] = Chain(engine, Anchor(Path(engine.url.database).parent))
        return chain
