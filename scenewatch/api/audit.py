"""The audit log: append-only, hash-chained, anchored outside the database, and failing closed.

Rows are chained by hash and signed with a key kept in the data folder (``audit_anchor.py``), as
are checkpoints of the chain's head; the writer (group commit, one thread per database) is
``audit_chain.py``, a coroutine's records are committed on its event loop when the database is free
(``audit_loop.py``), reading and exports ``audit_export.py``, checking ``audit_verify.py``.
``verify`` reports the first changed, deleted, reordered or re-signed row and a log cut short after
its last checkpoint.

No record, no action: ``append`` returns once its record is committed and raises
``AuditUnavailable`` (the API answers 503) when it cannot be, so nothing audited happens unrecorded.
Concurrent requests share a commit; the writer logs a failure once and a recovery once.
"""

from __future__ import annotations

import asyncio
import atexit
import getpass
import os
from typing import Any

from scenewatch.api.audit_chain import (
    GENESIS,
    AuditUnavailable,
    Database,
    Entry,
    HasEngine,
    Record,
    attach,
    canonical,
    chain_of,
    chains,
    chains_lock,
    flush,
    link,
    make_record,
    where,
)
from scenewatch.api.audit_export import export_csv, export_jsonl, rows
from scenewatch.api.audit_loop import loop_commits
from scenewatch.api.audit_verify import verify
from scenewatch.errors import SceneWatchError

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


def os_actor() -> str:
    """The operating-system user running this process, as an audit actor (``os:<login>``)."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"os:uid{os.getuid()}"


def append(db: Database, user: str, action: str, target: str, detail: dict[str, Any] | None = None) -> str:
    """Record one action; returns its hash once committed. Raises ``AuditUnavailable`` when it
    cannot be recorded within ``WAIT_S``: the caller must then not perform or answer the action."""
    entry = Entry(make_record(user, action, target, detail), waited=True)
    chain = chain_of(db)
    writer = chain.submit(entry)
    if not entry.done.wait(WAIT_S):
        writer.cancel(entry)  # still queued: never written; already taken: may be (recorded, refused)
        raise _refused("the audit log did not answer in time", "timeout")
    if entry.digest is None:
        raise _refused("the audit log cannot be written", chain.failing.get("database"))
    return entry.digest


class Recording:
    """One record queued from a coroutine; ``await committed()`` before the action's result leaves.
    Queued at once (no task to start), so a search's answer is computed while its record commits."""

    def __init__(self, db: Database, record: Record):
        loop = asyncio.get_running_loop()
        self.chain = chain_of(db)
        self.future: asyncio.Future[None] = loop.create_future()
        self.entry = Entry(record, waited=True, wake=lambda: self._wake(loop))
        quick = loop_commits(self.chain)
        if quick is not None:
            quick.add(self.entry, self._settle)
        else:
            self.chain.submit(self.entry)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_soon_threadsafe(self._settle)  # from the writer thread

    def _settle(self) -> None:
        if not self.future.done():  # not given up on (timed out) meanwhile
            self.future.set_result(None)

    async def committed(self) -> str:
        """The record's hash once committed; raises ``AuditUnavailable`` as ``append`` does."""
        try:
            async with asyncio.timeout(WAIT_S):
                await self.future
        except TimeoutError:
            if (writer := self.chain.writer) is not None:
                writer.cancel(self.entry)
            raise _refused("the audit log did not answer in time", "timeout") from None
        if self.entry.digest is None:
            raise _refused("the audit log cannot be written", self.chain.failing.get("database"))
        return self.entry.digest


def append_soon(
    db: Database, user: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> Recording:
    """Queue one record from a coroutine; await its ``committed()`` before acting or answering."""
    return Recording(db, make_record(user, action, target, detail))


async def append_async(
    db: Database, user: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> str:
    """``append`` for a coroutine: the same record and refusal, awaited on the event loop instead
    of holding a worker thread while the commit is made."""
    return await append_soon(db, user, action, target, detail).committed()


def append_later(
    db: Database, user: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Queue one record without waiting: only for what happens anyway (nothing to refuse). While the
    database cannot be written such records stay queued and are written when it recovers."""
    chain_of(db).submit(Entry(make_record(user, action, target, detail), waited=False))


def check_writable(store: HasEngine, actor: str | None = None) -> None:
    """Write a ``server_start`` record (database, key, checkpoints), or refuse with a clear error
    naming what cannot be written: a server that cannot audit must not serve."""
    attach(store)
    anchor = chain_of(store).anchor
    anchor.check_writable()
    try:
        append(store, actor or os_actor(), "server_start", "server", {"pid": os.getpid()})
    except AuditUnavailable as exc:
        raise SceneWatchError(
            f"cannot write the audit log in {where(store.engine)}: {exc.cause}",
            "make the database file and its folder writable, free disk space, then start again",
        ) from None


def flush_all(timeout: float = 30.0) -> None:
    with chains_lock:
        every = list(chains.values())
    for chain in every:
        chain.flush(timeout)


atexit.register(flush_all, 5.0)


def _refused(what: str, cause: str | None) -> AuditUnavailable:
    return AuditUnavailable(
        f"{what}, so this action is refused (nothing is done or shown without its audit record)",
        "try again later; if it persists, the administrator must check the database and its disk",
        cause,
    )


__all__ = [
    "GENESIS",
    "AuditUnavailable",
    "Database",
    "append",
    "append_async",
    "append_later",
    "attach",
    "canonical",
    "check_writable",
    "export_csv",
    "export_jsonl",
    "flush",
    "link",
    "os_actor",
    "rows",
    "verify",
]
