"""Reading candidates by id: their facts from the index (for ranking) and their track rows (for
the answer), in pages of primary-key reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select

from scenewatch.store.schema import track_terms, tracks

IN_CHUNK = 500  # ids per IN (...) list

# track id -> its first_ts where known (PostgreSQL: it names the day partition), or a plain list
Ids = dict[int, float | None] | list[int]


@dataclass(slots=True)
class TrackFacts:
    """A candidate as the index holds it: where, when, and its facts (weights >= MIN_WEIGHT)."""

    camera_id: int
    first_ts: float
    last_ts: float
    facts: dict[str, float] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return next((t[6:] for t in self.facts if t.startswith("class:")), "object")


def id_pages(conn: Connection, id_col, ts_col, ids: Ids) -> list[ColumnElement[bool]]:
    """WHERE clauses reading ``ids`` in pages of IN_CHUNK. On PostgreSQL, when the first_ts of
    every id is known, each page also says which first_ts values it wants, so the planner reads
    only the day partitions holding them (tracks and their terms share their track's first_ts)."""
    keys = list(ids)
    days = ids if conn.dialect.name == "postgresql" and isinstance(ids, dict) else None
    if days is not None and any(ts is None for ts in days.values()):
        days = None
    pages = []
    for i in range(0, len(keys), IN_CHUNK):
        page = keys[i : i + IN_CHUNK]
        where = [id_col.in_(page)]
        if days is not None:
            where.append(ts_col.in_(sorted({ts for k in page if (ts := days[k]) is not None})))
        pages.append(and_(*where))
    return pages


def load_facts(conn: Connection, ids: Ids) -> dict[int, TrackFacts]:
    """Candidates' facts from the index (primary-key reads, no JSON): ranking reads only these."""
    t = track_terms.c
    cols = (t.track_id, t.term, t.weight, t.camera_id, t.first_ts, t.last_ts)
    out: dict[int, TrackFacts] = {}
    for where in id_pages(conn, t.track_id, t.first_ts, ids):
        # fetched at once: a row at a time costs more than the read itself (17 rows a track)
        for track_id, term, weight, camera_id, first_ts, last_ts in conn.execute(
            select(*cols).where(where)
        ).all():
            out.setdefault(track_id, TrackFacts(camera_id, first_ts, last_ts)).facts[term] = weight
    return out


def load_tracks(conn: Connection, ids: Ids) -> dict[int, Any]:
    """The track rows an answer shows, by id."""
    t = tracks.c
    cols = (t.id, t.camera_id, t.class_name, t.first_ts, t.last_ts, t.score, t.thumbnail)
    out: dict[int, Any] = {}
    for where in id_pages(conn, t.id, t.first_ts, ids):
        for row in conn.execute(select(*cols).where(where)):
            out[row.id] = row
    return out
