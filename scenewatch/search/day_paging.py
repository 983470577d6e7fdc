"""PostgreSQL: a search window read day partition by day partition.

One ordered scan over all the window's partitions would need a row from every partition before
returning any, and a partition the window only grazes (the hour of look-back before it, the
midnight that ends it) holds few rows in weight order: finding its first one reads the whole term
in that day. Per day the planner sees how much of the day is asked for and reads that part by
time instead; the best rows of each day are then merged.

A window of 00:10-00:20 reads two days: its hour of look-back begins the day before.

>>> from scenewatch.search.scope import Scope
>>> window_days(Scope(86400.0 * 3 + 600, 86400.0 * 3 + 1200, None))
[(256200.0, 259200.0, False), (259200.0, 260400.0, True)]
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, select, union_all

from scenewatch.search.scope import LOOKBACK_S, Scope
from scenewatch.store.partitions import PERIOD_S

MAX_DAYS = 62  # longer windows are read in one statement, not day by day

Day = tuple[float, float, bool]  # (lo, hi, hi_inclusive): the part of a window within one day


def window_days(scope: Scope) -> list[Day] | None:
    """The window of a search cut at the day partitions' bounds, together exactly ``first_ts`` in
    [start - LOOKBACK_S, end]; None without both ends or over more than MAX_DAYS days."""
    if scope.start is None or scope.end is None or scope.end < scope.start:
        return None
    lo, end = scope.start - LOOKBACK_S, scope.end
    first, last = int(lo // PERIOD_S), int(end // PERIOD_S)
    if last - first > MAX_DAYS:
        return None
    days = []
    for day in range(first, last + 1):
        bound = (day + 1) * PERIOD_S
        days.append((max(lo, float(day * PERIOD_S)), min(end, float(bound)), bound > end))
    return days


def day_bounds(alias, day: Day) -> list:
    """WHERE conditions keeping ``alias.first_ts`` within one day's part of the window."""
    lo, hi, inclusive = day
    return [alias.c.first_ts >= lo, alias.c.first_ts <= hi if inclusive else alias.c.first_ts < hi]


def best_of_days(conn: Connection, per_day: Sequence[Select], k: int) -> list:
    """The best ``k`` rows by weight of the per-day statements (each selecting ``track_id``,
    ``first_ts`` and ``weight``), merged."""
    parts = [q.subquery() for q in per_day]
    union = union_all(*(select(p) for p in parts)).subquery()
    q = select(union.c.track_id, union.c.first_ts).order_by(union.c.weight.desc()).limit(k)
    return list(conn.execute(q))
