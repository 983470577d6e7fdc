"""What a search may look at: the cameras and zones it can name, and its time and camera filters.

>>> names = {1: "door", 2: "yard"}
>>> notes = []
>>> search_scope(None, names, ["door", "roof"], notes)
Scope(start=None, end=None, camera_ids=[1])
>>> notes
["unknown camera 'roof' (known cameras: door, yard)"]
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from scenewatch.search.model import Query
from scenewatch.store.schema import cameras, search_zones

Window = tuple[datetime | None, datetime | None]  # picked beside the text: from, to (None: open)
LOOKBACK_S = 3600.0  # a track that began this long before a window and overlaps it is found
MAX_NAMES = 1000  # cameras / zones loaded to recognise names in a query


@dataclass(slots=True)
class Scope:
    """The filters every candidate statement shares."""

    start: float | None
    end: float | None
    camera_ids: list[int] | None  # None: all cameras


def camera_names(conn: Connection, visible: Collection[str] | None = None) -> dict[int, str]:
    """Camera id -> name of the cameras a query may name (``visible``; None: all)."""
    q = select(cameras.c.id, cameras.c.name).order_by(cameras.c.name).limit(MAX_NAMES)
    if visible is not None:
        q = q.where(cameras.c.name.in_(list(visible)))
    return {i: n for i, n in conn.execute(q)}


def all_camera_ids(conn: Connection) -> list[int]:
    return list(conn.scalars(select(cameras.c.id).limit(MAX_NAMES)))


def zone_names(conn: Connection, camera_ids: list[int] | None) -> list[str]:
    """Zone names to recognise in a query: of these cameras (None: of all)."""
    q = select(search_zones.c.name).distinct().limit(MAX_NAMES)
    if camera_ids is not None:
        q = q.where(search_zones.c.camera_id.in_(camera_ids))
    return list(conn.scalars(q))


def search_scope(
    query: Query | None,
    names: dict[int, str],
    cameras: list[str] | tuple[str, ...] | None,
    notes: list[str],
    restricted: bool = False,
    window: Window = (None, None),
) -> Scope | None:
    """Time and camera filters; None when the cameras or times asked for leave nothing to search.
    ``restricted``: ``names`` are the only cameras the user may see, so search no others.
    ``window``: a time range picked beside the text, narrowing the text's own time."""
    ids_by_name = {n: i for i, n in names.items()}
    allowed: set[int] | None = set(names) if restricted else None
    if cameras:
        for c in cameras:
            if c not in ids_by_name:
                known = ", ".join(list(ids_by_name)[:8]) or "none yet"
                notes.append(f"unknown camera '{c}' (known cameras: {known})")
        allowed = {ids_by_name[c] for c in cameras if c in ids_by_name}
    if query is not None and query.cameras:
        said = {ids_by_name[c] for c in query.cameras if c in ids_by_name}
        if allowed is not None and not said & allowed:
            notes.append("the cameras in the query are not among those selected")
        allowed = said if allowed is None else said & allowed
    if allowed is not None and not allowed:
        return None
    start, end = (query.start, query.end) if query is not None else (None, None)
    if window != (None, None):
        start, end = _narrowed((start, end), window)
        if start is not None and end is not None and start > end:
            notes.append("the time in the query is outside the picked time")
            return None
        if query is not None:  # the reading shown to the user gives the time searched
            query.start, query.end = start, end
    return Scope(
        start.timestamp() if start else None,
        end.timestamp() if end else None,
        sorted(allowed) if allowed is not None else None,
    )


def _narrowed(said: Window, picked: Window) -> Window:
    """The overlap of two time ranges (either end None: open)."""
    starts = [t for t in (said[0], picked[0]) if t is not None]
    ends = [t for t in (said[1], picked[1]) if t is not None]
    return (max(starts) if starts else None, min(ends) if ends else None)


def in_window(row, scope: Scope) -> bool:
    """Whether a track (``camera_id``, ``first_ts``, ``last_ts``) lies in the scope."""
    if scope.camera_ids is not None and row.camera_id not in scope.camera_ids:
        return False
    if scope.end is not None and row.first_ts > scope.end:
        return False
    return scope.start is None or row.last_ts >= scope.start
