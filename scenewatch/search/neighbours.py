"""The tracks next to a search's fragments: those of the same cameras that begin or end within a
join's reach of one of them, read for :mod:`scenewatch.search.grouping`.

Every camera's stretches of time are read in one statement, each as two index ranges: tracks that
begin in it (``camera_id, first_ts``) and tracks that end in it (``camera_id, last_ts``), so only
the rows found are visited, never the hour of tracks begun before it.

>>> _merged([(5.0, 9.0), (0.0, 2.0), (1.0, 3.0)])
[(0.0, 3.0), (5.0, 9.0)]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from scenewatch.search.fragments import Fragment
from scenewatch.search.scope import LOOKBACK_S, Scope, in_window
from scenewatch.store.schema import tracks

MAX_NEIGHBOURS = 2000  # fragments read per round, so a crowded hour cannot flood a search

Span = tuple[int, float, float]  # camera id, from, to


def neighbour_ids(conn: Connection, fragments: Iterable[Fragment], scope: Scope, reach: float) -> set[int]:
    """Tracks of the same cameras, within the scope, that begin or end within ``reach`` seconds
    of one of ``fragments``' ends. Stretches are taken camera by camera, each in time order,
    until MAX_NEIGHBOURS are found."""
    windows: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for f in fragments:
        windows[f.camera_id].append((f.first_ts - reach, f.last_ts + reach))
    spans = [(camera_id, lo, hi) for camera_id, got in windows.items() for lo, hi in _merged(got)]
    if not spans:
        return set()
    rows = _rows(conn, spans, 2 * MAX_NEIGHBOURS)
    whole = len(rows) < 2 * MAX_NEIGHBOURS  # else a crowd: each stretch read by itself, in order
    of_camera: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        of_camera[row.camera_id].append(row)
    begins = {camera_id: [row.first_ts for row in got] for camera_id, got in of_camera.items()}
    found: set[int] = set()
    for camera_id, lo, hi in spans:
        room = MAX_NEIGHBOURS - len(found)
        if whole:  # a stretch's rows begin at most LOOKBACK_S before it, and before its end
            at = begins.get(camera_id, [])
            near = of_camera[camera_id][bisect_left(at, lo - LOOKBACK_S) : bisect_right(at, hi)]
            got = [r for r in near if lo <= r.first_ts or lo <= r.last_ts <= hi]
        else:
            got = _rows(conn, [(camera_id, lo, hi)], room)
        found.update(row.id for row in got[:room] if in_window(row, scope))
        if len(found) >= MAX_NEIGHBOURS:
            break
    return found


def _rows(conn: Connection, spans: Sequence[Span], limit: int) -> list[Any]:
    """Tracks that begin in one of ``spans`` or end in it (having begun at most LOOKBACK_S
    before it: a day partition's bound on PostgreSQL), in time order, at most ``limit``."""
    t = tracks.c
    arms = []
    for camera_id, lo, hi in spans:
        arms.append(and_(t.camera_id == camera_id, t.first_ts.between(lo, hi)))
        ended = and_(t.camera_id == camera_id, t.last_ts.between(lo, hi))
        arms.append(and_(ended, t.first_ts.between(lo - LOOKBACK_S, hi)))
    q = select(t.id, t.camera_id, t.first_ts, t.last_ts).where(or_(*arms))
    return list(conn.execute(q.order_by(t.first_ts, t.id).limit(limit)).all())


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
