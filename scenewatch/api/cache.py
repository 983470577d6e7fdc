"""Short-lived response caches for the busiest read endpoints (search, event list).

An entry is keyed by everything its answer depends on (query, cameras, user scope, page size)
and stamped with the *versions* of the tables it reads, taken before it was computed.
``TableVersions`` bumps a table's version on every write this process makes to it (when the
statement runs and again when its connection goes back to the pool, i.e. after the commit), and
on every write the pipeline process reports (:mod:`scenewatch.api.pipeline_process`). Inserts and
deletes also bump ``"<table>:rows"``, for readers that only need to know about rows coming and
going (search finds tracks through their index terms, written when a track is finished, or as the
latest rows: the many updates of tracks still in progress need not touch its answers).

How fresh an answer is (:data:`FRESH_S`): a change made by this process is in the key (its own
versions), so the next request computes a new answer. The cameras write all the time, so an answer
outdated by their writes is still served for up to ``fresh_s`` after its computation began, and
recomputed in the background from :data:`REFRESH_SHARE` of that age: each cached answer is computed
about once a ``fresh_s`` however fast the cameras write, and no request waits for it meanwhile.
While that recomputation runs the outdated answer is still served, past ``fresh_s`` if it takes
longer (a busy machine), but never past ``ttl_s``: requests wait for a computation only when there
is no answer to serve. Writers no one reports (another program on the database) are seen after
``ttl_s``. Concurrent misses of one key compute it once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)
FRESH_S = 1.0  # a change the cameras store shows in search and the event list within this
REFRESH_SHARE = 0.75  # of ``fresh_s``: an outdated answer this old is recomputed in the background
TTL_S = 5.0  # a change no one reports (another program on the database) shows within this

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_ROWS = re.compile(r"^\s*(INSERT|DELETE|REPLACE)\b", re.IGNORECASE)


def rows_of(table: str) -> str:
    """The counter of rows added to or deleted from ``table`` (its updates not counted)."""
    return f"{table}:rows"


class TableVersions:
    """Per-table write counters of one engine: every write (this process's and those reported by
    the pipeline process) and this process's own."""

    def __init__(self, engine: Engine, tables: tuple[str, ...]):
        self._versions = dict.fromkeys(tables + tuple(rows_of(t) for t in tables), 0)
        self._own = dict(self._versions)
        self._patterns = {
            t: re.compile(rf'(?<![\w"]){re.escape(t)}(?![\w"])|"{re.escape(t)}"') for t in tables
        }
        self._lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "checkin", self._checkin)

    def version(self, *tables: str) -> tuple[int, ...]:
        """Every write to ``tables``."""
        return tuple(self._versions[t] for t in tables)

    def own(self, *tables: str) -> tuple[int, ...]:
        """This process's writes to ``tables``."""
        return tuple(self._own[t] for t in tables)

    def bump(self, tables, own: bool = True) -> None:
        with self._lock:
            for table in tables:
                self._versions[table] += 1
                if own:
                    self._own[table] += 1

    def _executed(self, conn, _cursor, statement, _params, _context, _many) -> None:
        if not _WRITE.match(statement):
            return
        touched = [t for t, p in self._patterns.items() if p.search(statement)]
        if touched and _ROWS.match(statement):
            touched += [rows_of(t) for t in touched]
        if touched:
            self.bump(touched)
            conn.info.setdefault("sw_touched", set()).update(touched)

    def _checkin(self, _dbapi_conn, record) -> None:
        touched = record.info.pop("sw_touched", None) if record is not None else None
        if touched:
            self.bump(touched)


@dataclass(slots=True)
class _Entry:
    made: float  # monotonic time its computation began
    seen: Any  # the versions of its tables then
    value: Any


class ResponseCache:
    """A small LRU of answers (e.g. JSON bytes), each stamped with the versions it was computed
    from; see the module's text for how long one is served."""

    def __init__(self, ttl_s: float = TTL_S, max_entries: int = 512, fresh_s: float = FRESH_S):
        self.ttl_s = ttl_s
        self.fresh_s = fresh_s
        self.max_entries = max_entries
        self.computed = 0  # answers computed (not served from the cache)
        self._items: OrderedDict[Any, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Any, threading.Lock] = {}

    def lookup(self, key: Any, seen: Any = None) -> tuple[Any | None, bool]:
        """The answer to serve for ``key`` while its tables are at versions ``seen`` (None: none),
        and whether it is due to be computed again (outdated and ``REFRESH_SHARE`` of ``fresh_s`` old).
        An outdated answer past ``fresh_s`` is served only while its successor is being computed."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None, False
            age, current = now - hit.made, hit.seen == seen
            expired = not current and age >= self.fresh_s and key not in self._computing
            if age > self.ttl_s or expired:
                del self._items[key]
                return None, False
            self._items.move_to_end(key)
            return hit.value, not current and age >= self.fresh_s * REFRESH_SHARE

    def get(self, key: Any, seen: Any = None) -> Any | None:
        return self.lookup(key, seen)[0]

    def busy(self, key: Any) -> bool:
        """An answer for ``key`` is being computed."""
        with self._lock:
            return key in self._computing

    def put(self, key: Any, value: Any, seen: Any = None, made: float | None = None) -> None:
        with self._lock:
            self._items[key] = _Entry(time.monotonic() if made is None else made, seen, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def fill(self, key: Any, compute: Callable[[], Any], stamp: Callable[[], Any] = lambda: None) -> Any:
        """The answer for ``key``: the cached one while it is current, else ``compute()``, stamped
        with ``stamp()`` (the tables' versions) read before it began. Concurrent callers of one key
        compute it once: the others wait for that answer (no stampede when the tables change under
        many clients)."""
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        try:
            with gate:
                made, seen = time.monotonic(), stamp()
                found, due = self.lookup(key, seen)
                if found is not None and not due:
                    return found
                value = compute()
                self.computed += 1
                self.put(key, value, seen, made)
                return value
        finally:
            with self._lock:
                if self._computing.get(key) is gate:
                    del self._computing[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_refreshing: set[asyncio.Future] = set()  # background recomputations (kept from the collector)


async def cached_answer(
    cache: ResponseCache, key: Any, compute: Callable[[], Any], stamp: Callable[[], Any]
) -> Any:
    """The answer for ``key`` from the cache without a worker thread when there is one to serve
    (recomputed in the background when due), else computed in one (``ResponseCache.fill``)."""
    found, due = cache.lookup(key, stamp())
    if found is None:
        return await run_in_threadpool(cache.fill, key, compute, stamp)
    if due and not cache.busy(key):
        task = asyncio.ensure_future(run_in_threadpool(cache.fill, key, compute, stamp))
        _refreshing.add(task)
        task.add_done_callback(_refreshed)
    return found


def _refreshed(task: asyncio.Future) -> None:
    _refreshing.discard(task)
    if not task.cancelled() and task.exception() is not None:  # the next request will see it
        log.warning("a cached answer could not be computed again: %s", task.exception())
