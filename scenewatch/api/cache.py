"""Short-lived response caches for the busiest read endpoints (search, event list).

An entry is keyed by everything its answer depends on (query, cameras, user scope, page size)
plus a *version* of the tables it reads. ``TableVersions`` bumps a table's version on every write
this process makes to it (when the statement runs and again when its connection goes back to
the pool, i.e. after the commit), so a cached answer is never served after new tracks or events
were written here. Inserts and deletes also bump ``"<table>:rows"``, for readers that only need to
know about rows coming and going (search finds tracks through their index terms, written when a
track is finished, or as the latest rows: the many updates of tracks still in progress need not
empty its cache). Writers in other processes are not seen: entries also expire after ``ttl_s``.
An answer computed while its tables changed is not stored.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import Engine, event

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_ROWS = re.compile(r"^\s*(INSERT|DELETE|REPLACE)\b", re.IGNORECASE)


def rows_of(table: str) -> str:
    """The counter of rows added to or deleted from ``table`` (its updates not counted)."""
    return f"{table}:rows"


class TableVersions:
    """Per-table write counters of one engine (in-process writes)."""

    def __init__(self, engine: Engine, tables: tuple[str, ...]):
        self._versions = dict.fromkeys(tables + tuple(rows_of(t) for t in tables), 0)
        self._patterns = {
            t: re.compile(rf'(?<![\w"]){re.escape(t)}(?![\w"])|"{re.escape(t)}"') for t in tables
        }
        self._lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "checkin", self._checkin)

    def version(self, *tables: str) -> tuple[int, ...]:
        return tuple(self._versions[t] for t in tables)

    def bump(self, tables) -> None:
        with self._lock:
            for table in tables:
                self._versions[table] += 1

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


class ResponseCache:
    """A small LRU of answers (e.g. JSON bytes) that expire after ``ttl_s``."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 512):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Any, threading.Lock] = {}

    def get(self, key: Any) -> Any | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if now - hit[0] > self.ttl_s:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Any, compute, keep) -> Any:
        """The cached answer, else ``compute()``, stored when ``keep()`` is still true. Concurrent
        misses of one key compute it once: the others wait for that answer (no stampede when the
        tables change under many clients)."""
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            found = self.get(key)
            if found is not None:
                return found
            try:
                value = compute()
                if keep():
                    self.put(key, value)
            finally:
                with self._lock:
                    if self._computing.get(key) is gate:
                        del self._computing[key]
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
