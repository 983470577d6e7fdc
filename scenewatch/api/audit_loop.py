"""Audit records committed on the server's event loop: the records of one pass of the loop (the
searches it answered) go into one transaction made right there, through a SQLite connection that
never waits for the write lock. A search's answer then leaves one pass after its record is
committed, with no trip through the writer thread (whose wake-ups wait for the GIL on a busy
server). When the lock is held (the cameras are writing) or anything else goes wrong, the records
are handed to the writer thread (``audit_chain.Writer``), which waits for the lock, retries and
refuses as before: nothing is answered unrecorded either way.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from scenewatch.api.audit_chain import Chain, Entry, write_records

log = logging.getLogger("scenewatch.api.audit")


class LoopCommits:
    """One event loop's records for one chain, committed together at the end of the loop's pass."""

    def __init__(self, chain: Chain, loop: asyncio.AbstractEventLoop):
        self.chain = chain
        self.loop = loop
        self.pending: list[tuple[Entry, Callable[[], None]]] = []

    def add(self, entry: Entry, settle: Callable[[], None]) -> None:
        """Queue ``entry``; ``settle`` is called on this loop once it is committed or refused."""
        if not self.pending:
            self.loop.call_soon(self._commit)
        self.pending.append((entry, settle))

    def _commit(self) -> None:
        batch, self.pending = self.pending, []
        engine = self.chain.no_wait
        if engine is None or "database" in self.chain.failing:  # the writer knows when it recovers
            self._hand_over(batch)
            return
        try:
            written = write_records(self.chain, [entry.record for entry, _ in batch], engine)
        except Exception as exc:  # locked, or failing: the writer waits, retries and refuses
            log.debug("audit log: %d records handed to the writer (%s)", len(batch), exc)
            self._hand_over(batch)
            return
        for (entry, settle), (_row_id, digest) in zip(batch, written, strict=True):
            entry.digest = digest
            entry.done.set()
            settle()
        self.chain.committed_elsewhere(written[-1])

    def _hand_over(self, batch: list[tuple[Entry, Callable[[], None]]]) -> None:
        for entry, _settle in batch:
            self.chain.submit(entry)  # its ``wake`` settles it on this loop


_loops: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Chain, LoopCommits]
] = weakref.WeakKeyDictionary()


def loop_commits(chain: Chain) -> LoopCommits | None:
    """The running loop's committer for ``chain``; None where the chain's database is not a SQLite
    file (a network round trip must not block the loop): its records go to the writer thread."""
    if chain.no_wait is None:
        return None
    loop = asyncio.get_running_loop()
    mine = _loops.setdefault(loop, weakref.WeakKeyDictionary())
    found = mine.get(chain)
    if found is None:
        found = mine[chain] = LoopCommits(chain, loop)
    return found
