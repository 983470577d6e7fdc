"""The audit log: append-only, hash-chained, anchored outside the database, and failing closed.

Each row stores ``hash = sha256(prev_hash + canonical JSON of {ts, user, action, target, detail})``
with ``prev_hash`` the hash of the row before (64 zeros for the first), and ``mac``, a keyed MAC of
its id and hash whose key lives in the data folder (``audit_anchor.py``), as do signed checkpoints
of the chain's head. ``verify`` reports the first changed, deleted, reordered or re-signed row and
a log cut short after its last checkpoint. ``prev_hash`` and ``id`` are unique, so two writers
racing for the same tail cannot fork the chain: the loser retries on the new tail.

No record, no action: ``append`` returns once its record is committed and raises
``AuditUnavailable`` (the API answers 503) when it cannot be, so nothing audited happens unrecorded.
One writer thread per database appends whatever is queued in one transaction, so concurrent
requests share a commit; it logs a failure once and a recovery once.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import getpass
import hashlib
import io
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from scenewatch.api.audit_anchor import Anchor, Checkpoint, row_mac
from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import audit_log

GENESIS = "0" * 64
ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "search",
    "clip_view",
    "track_view",
    "export",
    "config_change",
    "event_state",
    "user_change",
    "server_start",
    "suppression_add",
    "suppression_remove",
)
WAIT_S = 10.0  # how long an audited action waits for its record before it is refused
RETRY_S = 5.0  # records nobody waits for (``append_later``) are retried this often while failing
CHECKPOINT_EVERY_S = 1.0  # at most one checkpoint line a second; the last one follows within that
log = logging.getLogger(__name__)


class AuditUnavailable(SceneWatchError):
    """The record of an action cannot be written, so the action is refused (503 in the API)."""

    def __init__(self, message: str, hint: str | None = None, cause: str | None = None):
        super().__init__(message, hint)
        self.cause = cause


class _HasEngine(Protocol):
    root: Path
    engine: Engine


Database = Engine | _HasEngine  # an engine, or a ``DataStore`` (whose data folder holds the key)


def canonical(ts: float, user: str, action: str, target: str, detail: dict[str, Any]) -> str:
    """Sorted keys, no spaces, floats as repr: the same bytes on every machine."""
    body = {"ts": ts, "user": user, "action": action, "target": target, "detail": detail}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(prev_hash: str, ts: float, user: str, action: str, target: str, detail: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(ts, user, action, target, detail)).encode()).hexdigest()


def os_actor() -> str:
    """The operating-system user running this process, as an audit actor (``os:<login>``)."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"os:uid{os.getuid()}"


def attach(store: _HasEngine) -> None:
    """Tie ``store.engine``'s audit log to the key and checkpoints of ``store.root``."""
    with _chains_lock:
        chain = _chains.get(store.engine)
        if chain is None or chain.anchor.root != Path(store.root):
            _chains[store.engine] = _Chain(store.engine, Anchor(store.root))


def append(db: Database, user: str, action: str, target: str, detail: dict[str, Any] | None = None) -> str:
    """Record one action; returns its hash once committed. Raises ``AuditUnavailable`` when it
    cannot be recorded within ``WAIT_S``: the caller must then not perform or answer the action."""
    entry = _Entry(_record(user, action, target, detail), waited=True)
    chain = _chain(db)
    writer = chain.submit(entry)
    if not entry.done.wait(WAIT_S):
        writer.cancel(entry)  # still queued: never written; already taken: may be (recorded, refused)
        raise _refused("the audit log did not answer in time", "timeout")
    if entry.digest is None:
        raise _refused("the audit log cannot be written", chain.failing.get("database"))
    return entry.digest


def append_later(
    db: Database, user: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Queue one record without waiting: only for what happens anyway (nothing to refuse). While the
    database cannot be written such records stay queued and are written when it recovers."""
    _chain(db).submit(_Entry(_record(user, action, target, detail), waited=False))


def check_writable(store: _HasEngine, actor: str | None = None) -> None:
    """Write a ``server_start`` record (database, key, checkpoints), or refuse with a clear error
    naming what cannot be written: a server that cannot audit must not serve."""
    attach(store)
    anchor = _chain(store).anchor
    anchor.check_writable()
    try:
        append(store, actor or os_actor(), "server_start", "server", {"pid": os.getpid()})
    except AuditUnavailable as exc:
        raise SceneWatchError(
            f"cannot write the audit log in {_where(store.engine)}: {exc.cause}",
            "make the database file and its folder writable, free disk space, then start again",
        ) from None


def flush(db: Database, timeout: float = 30.0) -> int:
    """Wait until every queued record and checkpoint is written; while the database cannot be
    written, try once more and stop. Returns how many records are still queued (logged)."""
    with _chains_lock:
        chain = _chains.get(_engine(db))
    return 0 if chain is None else chain.flush(timeout)


def flush_all(timeout: float = 30.0) -> None:
    with _chains_lock:
        chains = list(_chains.values())
    for chain in chains:
        chain.flush(timeout)


atexit.register(flush_all, 5.0)


# -- the writer ------------------------------------------------------------------------------------

Record = tuple[float, str, str, str, dict[str, Any]]


@dataclass(eq=False)
class _Entry:
    record: Record
    waited: bool  # someone waits: on failure they are told (refused), the record is not kept
    done: threading.Event = field(default_factory=threading.Event)
    digest: str | None = None  # set once committed


def _record(user: str, action: str, target: str, detail: dict[str, Any] | None) -> Record:
    detail = json.loads(json.dumps(detail or {}, default=str))  # what the database will give back
    return (time.time(), user, action, target, detail)


class _Chain:
    """One database's audit log: its anchor, its health, and its writer thread (while busy)."""

    def __init__(self, engine: Engine, anchor: Anchor):
        self._engine = weakref.ref(engine)  # the chain must not keep a dropped engine's pool open
        self.anchor = anchor
        self.failing: dict[str, str] = {}  # "database" / "checkpoints": why the last write failed
        self.writer: _Writer | None = None
        self.last_checkpoint = 0.0  # monotonic time of this process's last checkpoint line

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

    def submit(self, entry: _Entry) -> _Writer:
        with _chains_lock:
            if self.writer is None:
                self.writer = _Writer(self)
            writer = self.writer
            with writer.cond:
                writer.pending.append(entry)
                writer.cond.notify_all()
        return writer

    def failed(self, part: str, exc: Exception) -> None:
        cause = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if part not in self.failing:  # once, not once per try
            where = _where(self.engine) if part == "database" else f"checkpoint file {self.anchor.path}"
            refused = "audited actions are refused" if part == "database" else "truncation goes unseen"
            log.error("audit log: cannot write to %s (%s); %s until it can", where, cause, refused)
        self.failing[part] = cause

    def recovered(self, part: str) -> None:
        if self.failing.pop(part, None) is not None:
            where = _where(self.engine) if part == "database" else f"checkpoint file {self.anchor.path}"
            log.warning("audit log: writing to %s again", where)


class _Writer:
    """The thread that appends one database's queued records, in batches, and its checkpoints."""

    IDLE_EXIT_S = 10.0
    MAX_BATCH = 500

    def __init__(self, chain: _Chain):
        self.chain = chain
        self.pending: list[_Entry] = []
        self.busy = False
        self.force = False  # a flush asks for a try now (queued records, the owed checkpoint)
        self.forced = False  # the batch being written was asked for by a flush
        self.tries = 0
        self.retry_at = 0.0
        self.owed: tuple[int, str] | None = None  # (id, hash) of a tail not checkpointed yet
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self.thread.start()

    def cancel(self, entry: _Entry) -> None:
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

    def _next(self) -> list[_Entry] | None:
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

    def _take(self, batch: list[_Entry]) -> list[_Entry]:
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
        with _chains_lock, self.cond:  # the order ``submit`` takes them in
            if self.pending or self.owed:
                return False
            if self.chain.writer is self:  # the next record starts a new writer
                self.chain.writer = None
            self.cond.notify_all()
            return True

    def _work(self, batch: list[_Entry]) -> None:
        chain = self.chain
        if batch:
            try:
                written = _write(chain, [e.record for e in batch])
            except Exception as exc:  # any failure: refuse the waiting actions, keep the others
                chain.failed("database", exc)
                self.retry_at = time.monotonic() + RETRY_S
                with self.cond:
                    self.pending[:0] = [e for e in batch if not e.waited]
                _release(batch)
                return
            for entry, (_row_id, digest) in zip(batch, written, strict=True):
                entry.digest = digest
            self.owed = written[-1]
            chain.recovered("database")
        if self.owed and (self.forced or time.monotonic() >= chain.last_checkpoint + CHECKPOINT_EVERY_S):
            try:
                self._checkpoint()
                chain.recovered("checkpoints")
            except Exception as exc:  # the records are committed; only the anchor lags
                if not chain.closed:  # a dropped engine owes nothing more
                    chain.failed("checkpoints", exc)
        _release(batch)

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


def _release(batch: list[_Entry]) -> None:
    for entry in batch:
        entry.done.set()  # a kept record's event is never waited on


def _write(chain: _Chain, records: list[Record]) -> list[tuple[int, str]]:
    """Append ``records`` in one transaction, chained onto the current tail: their (id, hash)."""
    for _attempt in range(20):
        try:
            with chain.engine.begin() as conn:
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


_chains: weakref.WeakKeyDictionary[Engine, _Chain] = weakref.WeakKeyDictionary()
_chains_lock = threading.RLock()


def _engine(db: Database) -> Engine:
    return db if isinstance(db, Engine) else db.engine


def _chain(db: Database) -> _Chain:
    """The chain of ``db``; a bare SQLite engine's key and checkpoints are beside its file."""
    if not isinstance(db, Engine):
        attach(db)
    engine = _engine(db)
    with _chains_lock:
        chain = _chains.get(engine)
        if chain is None:
            if engine.url.get_backend_name() != "sqlite" or not engine.url.database:
                raise AuditUnavailable(
                    f"no data folder is known for the audit key of {_where(engine)}",
                    "open the database through its data folder (DataStore)",
                    "no data folder",
                )
            chain = _chains[engine] = _Chain(engine, Anchor(Path(engine.url.database).parent))
        return chain


def _where(engine: Engine) -> str:
    if engine.url.get_backend_name() == "sqlite":
        return f"database file {engine.url.database}"
    return f"database {engine.url.render_as_string(hide_password=True)}"


def _refused(what: str, cause: str | None) -> AuditUnavailable:
    return AuditUnavailable(
        f"{what}, so this action is refused (nothing is done or shown without its audit record)",
        "try again later; if it persists, the administrator must check the database and its disk",
        cause,
    )


# -- reading ---------------------------------------------------------------------------------------


def rows(
    db: Database,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    user: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[dict[str, Any]]:
    """Newest first, paged by ``before_id``; ``since``/``until`` bound the time (epoch seconds)."""
    flush(db)
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if since is not None:
        query = query.where(audit_log.c.ts >= since)
    if until is not None:
        query = query.where(audit_log.c.ts < until)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if user is not None:
        query = query.where(audit_log.c.user == user)
    with _engine(db).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _all(db: Database, batch: int = 1000) -> Iterator[dict[str, Any]]:
    flush(db)
    query = select(audit_log).order_by(audit_log.c.id).limit(batch)
    last = None  # no lower bound at first: a row forged with a negative id is walked too
    while True:
        page = query if last is None else query.where(audit_log.c.id > last)
        with _engine(db).connect() as conn:
            chunk = [dict(r._mapping) for r in conn.execute(page)]
        yield from chunk
        if len(chunk) < batch:
            return
        last = chunk[-1]["id"]


def export_jsonl(db: Database) -> Iterator[str]:
    """Every row, oldest first, one JSON object a line: re-verifiable outside SceneWatch."""
    for row in _all(db):
        yield json.dumps(row, sort_keys=True, ensure_ascii=False, default=str) + "\n"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP CSV injection).

    >>> spreadsheet_safe('=HYPERLINK("http://x","y")'), spreadsheet_safe("admin"), spreadsheet_safe(1.5)
    ('\\'=HYPERLINK("http://x","y")', 'admin', 1.5)
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def export_csv(db: Database) -> Iterator[str]:
    """Every row for reading in a spreadsheet (text cells made formula-safe; verify the JSONL)."""
    fields = ["id", "ts", "user", "action", "target", "detail", "prev_hash", "hash", "mac"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in _all(db):
        cells = [json.dumps(row[f], sort_keys=True) if f == "detail" else row[f] for f in fields]
        writer.writerow([spreadsheet_safe(c) for c in cells])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


from scenewatch.api.audit_verify import verify  # noqa: E402  (re-exported: ``audit.verify``)

__all__ = [
    "GENESIS",
    "AuditUnavailable",
    "append",
    "append_later",
    "attach",
    "check_writable",
    "export_csv",
    "export_jsonl",
    "flush",
    "link",
    "os_actor",
    "rows",
    "verify",
]
