"""PostgreSQL's own statistics of the search terms, read at most every few minutes.

The candidate planner counts each need's index rows up to a cap; on a large store several needs
reach the cap and the count no longer tells the rarest. The terms' shares in ``pg_stats`` (kept
by autovacuum's ANALYZE) break that tie. Whoever searches repeatedly keeps one
:class:`TermShares` (the API server holds it in its context), so the catalogue is read once per
``ttl_s``, not per search.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection

SHARES_TTL_S = 600.0

_STATS = (
    "SELECT most_common_vals::text::text[], most_common_freqs FROM pg_stats "
    "WHERE schemaname = current_schema() AND starts_with(tablename, 'track_terms_') "
    "AND attname = 'term' AND most_common_vals IS NOT NULL"
)


class TermShares:
    """Each common term's share of the term rows, averaged over the day partitions' statistics;
    cached per database for ``ttl_s``."""

    def __init__(self, ttl_s: float = SHARES_TTL_S):
        self.ttl_s = ttl_s
        self._cached: dict[str, tuple[float, dict[str, float]]] = {}  # database -> (when, shares)
        self._lock = threading.Lock()

    def get(self, conn: Connection) -> dict[str, float]:
        key = conn.engine.url.render_as_string(hide_password=True)
        now = time.monotonic()
        with self._lock:
            cached = self._cached.get(key)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        shares = _read_shares(conn)
        with self._lock:
            self._cached[key] = (now, shares)
        return shares


def _read_shares(conn: Connection) -> dict[str, float]:
    rows = conn.exec_driver_sql(_STATS).all()
    total: dict[str, float] = {}
    for terms, freqs in rows:
        for term, freq in zip(terms, freqs, strict=False):
            total[term] = total.get(term, 0.0) + freq
    return {t: f / len(rows) for t, f in total.items()}
