"""The search index: a track's facts (``facts.py``) as rows of ``track_terms``.

Only facts strong enough to be a match are stored (weight >= :data:`MIN_WEIGHT`; a track's
class always), so a query reads a short index range per term instead of every track. The writer
calls :func:`index_tracks` in the transaction that stores a finished track's attributes, so the
index is never behind the tracks table; :func:`reindex` rebuilds it for older databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from scenewatch.search.facts import track_facts
from scenewatch.store.schema import search_zones, track_terms, tracks

MIN_WEIGHT = 0.1  # a share or confidence below this is not a match worth an index row
MAX_TERM = 80  # the column width; longer zone names are cut (and cut the same way when searched)


def term_rows(
    track_id: int,
    camera_id: int,
    class_name: str,
    first_ts: float,
    last_ts: float,
    attributes: dict | None,
    score: float = 1.0,
) -> list[dict[str, Any]]:
    """The index rows of one track."""
    rows = []
    for term, weight in track_facts(class_name, attributes, score).items():
        if weight >= MIN_WEIGHT or term.startswith("class:"):
            rows.append(
                {
                    "track_id": track_id,
                    "term": term[:MAX_TERM],
                    "weight": float(weight),
                    "camera_id": camera_id,
                    "first_ts": float(first_ts),
                    "last_ts": float(last_ts),
                }
            )
    return rows


def index_tracks(conn: Connection, camera_id: int, items: Iterable[tuple[int, Mapping[str, Any]]]) -> int:
    """(Re)index tracks inside the caller's transaction; returns the rows written.

    ``items`` are ``(track id, values)`` where values hold ``class_name``, ``first_ts``,
    ``last_ts``, ``attributes`` and optionally ``score`` (the writer's track values).
    """
    rows: list[dict[str, Any]] = []
    ids: list[int] = []
    zones: set[str] = set()
    for track_id, v in items:
        ids.append(track_id)
        track_rows = term_rows(
            track_id,
            camera_id,
            v["class_name"],
            v["first_ts"],
            v["last_ts"],
            v.get("attributes"),
            v.get("score", 1.0),
        )
        rows += track_rows
        zones.update(r["term"][5:][:64] for r in track_rows if r["term"].startswith("zone:"))
    if not ids:
        return 0
    conn.execute(delete(track_terms).where(track_terms.c.track_id.in_(ids)))
    if rows:
        conn.execute(insert(track_terms), rows)
    if zones:
        known = set(
            conn.scalars(
                select(search_zones.c.name).where(
                    search_zones.c.camera_id == camera_id, search_zones.c.name.in_(zones)
                )
            )
        )
        if zones - known:
            conn.execute(insert(search_zones), [{"camera_id": camera_id, "name": z} for z in zones - known])
    return len(rows)


def reindex(engine: Engine, batch: int = 2000) -> int:
    """Rebuild the index for every finished track (a database indexed before search existed)."""
    written, last_id = 0, 0
    cols = (
        tracks.c.id,
        tracks.c.camera_id,
        tracks.c.class_name,
        tracks.c.first_ts,
        tracks.c.last_ts,
        tracks.c.attributes,
        tracks.c.score,
    )
    while True:
        with engine.begin() as conn:
            page = conn.execute(
                select(*cols)
                .where(tracks.c.id > last_id, tracks.c.finished.is_(True))
                .order_by(tracks.c.id)
                .limit(batch)
            ).all()
            if not page:
                return written
            by_camera: dict[int, list] = {}
            for row in page:
                by_camera.setdefault(row.camera_id, []).append((row.id, row._mapping))
            for camera_id, items in by_camera.items():
                written += index_tracks(conn, camera_id, items)
            last_id = page[-1].id
