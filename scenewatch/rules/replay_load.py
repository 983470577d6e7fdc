"""What a replay reads from the store: a camera's stored tracks in a window, and their sightings.

The sightings are the boxes the tracker reported live (the ``boxes`` table, interpolated ones and
the ones stored before a track was confirmed left out); a track stored without boxes gives its
path samples with a box of nominal size (the path keeps no box size).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain

import numpy as np
from sqlalchemy import Connection, Engine, Select, Text, and_, cast, select

from scenewatch.store.schema import boxes, tracks
from scenewatch.vision.labels import class_id

NOMINAL_HEIGHT = 0.2  # of the frame height: the box of a track stored without boxes
CHUNK = 500  # track ids per query of their boxes


@dataclass
class StoredTracks:
    """The stored tracks of the window, parallel arrays (one row a track)."""

    db_ids: np.ndarray
    run_ids: np.ndarray
    tracker_ids: np.ndarray
    class_ids: np.ndarray
    last_ts: np.ndarray
    paths: list[np.ndarray]  # [K, 3] time, x, y
    thumbnails: list[str | None]


def load_tracks(
    engine: Engine, camera_id: int, names: list[str], start: float, until: float
) -> StoredTracks | None:
    query = (
        select(
            tracks.c.id,
            tracks.c.run_id,
            tracks.c.tracker_id,
            tracks.c.class_name,
            tracks.c.last_ts,
            cast(tracks.c.path, Text).label("path"),
            tracks.c.thumbnail,
        )
        .where(
            tracks.c.camera_id == camera_id,
            tracks.c.last_ts >= start,
            tracks.c.first_ts <= until,
            tracks.c.class_name.in_(names),
        )
        .order_by(tracks.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return None
    return StoredTracks(
        db_ids=np.array([r.id for r in rows], np.int64),
        run_ids=np.array([r.run_id for r in rows], np.int64),
        tracker_ids=np.array([r.tracker_id for r in rows], np.int64),
        class_ids=np.array([class_id(r.class_name) for r in rows], np.int32),
        last_ts=np.array([r.last_ts for r in rows], np.float64),
        paths=_paths([r.path for r in rows]),
        thumbnails=[r.thumbnail for r in rows],
    )


def size_from_paths(paths: list[np.ndarray]) -> tuple[int, int]:
    """A frame size that holds every path point (a camera row without its size)."""
    points = np.concatenate([p[:, 1:] for p in paths])
    return int(points[:, 0].max()) + 1, int(points[:, 1].max()) + 1


def load_sightings(
    engine: Engine, stored: StoredTracks, rows: np.ndarray, size: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Every sighting of the tracks at ``rows``: their live boxes, else their path samples."""
    parts: list[tuple[np.ndarray, ...]] = []
    with_boxes: set[int] = set()
    db_ids = stored.db_ids[rows].tolist()
    with engine.connect() as conn:
        for i in range(0, len(db_ids), CHUNK):
            query = select(
                boxes.c.track_id,
                boxes.c.frame,
                boxes.c.ts,
                boxes.c.x1,
                boxes.c.y1,
                boxes.c.x2,
                boxes.c.y2,
                boxes.c.score,
                boxes.c.id,
            ).where(and_(boxes.c.track_id.in_(db_ids[i : i + CHUNK]), boxes.c.interpolated.is_(False)))
            fetched = _plain_rows(conn, query)
            # flat, not row by row (numpy probes each row object for array interfaces)
            flat = np.fromiter(chain.from_iterable(fetched), np.float64, 9 * len(fetched))
            found = _reported(flat.reshape(-1, 9))
            if len(found):
                track_rows = np.searchsorted(stored.db_ids, found[:, 0].astype(np.int64))  # ids ascend
                with_boxes.update(track_rows.tolist())
                parts.append(
                    (track_rows, found[:, 1].astype(np.int64), found[:, 2], found[:, 3:7], found[:, 7])
                )
    height = NOMINAL_HEIGHT * size[1]
    for row in rows.tolist():
        if row in with_boxes:
            continue
        path = stored.paths[row]
        x, y = path[:, 1], path[:, 2]
        xyxy = np.stack([x - 0.2 * height, y - height, x + 0.2 * height, y], axis=1)
        parts.append(
            (np.full(len(path), row), np.full(len(path), -1, np.int64), path[:, 0], xyxy, np.ones(len(path)))
        )
    if not parts:
        return {"run": np.zeros(0, np.int64)}
    track_rows, frames, ts, xyxy, scores = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((ts, track_rows))  # each track's sightings together, in time order
    return {
        "row": track_rows[order],
        "run": stored.run_ids[track_rows[order]],
        "frame": frames[order],
        "ts": ts[order],
        "xyxy": xyxy[order],
        "score": scores[order],
    }


def _plain_rows(conn: Connection, query: Select) -> list[tuple]:
    """The rows of a query of numbers and literal ids as the database driver gives them: plain
    tuples, without a result object per row (a million boxes cost seconds more through those)."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        rows = list(cursor.fetchall())  # DB-API: a sequence of row tuples
        return rows
    finally:
        cursor.close()


def _paths(texts: list[str]) -> list[np.ndarray]:
    """[K, 3] arrays of the stored paths' JSON texts (``[[t, x, y], ...]``), parsed in one pass."""
    counts = [text.count(",") + 1 for text in texts]
    flat = (
        np.fromstring(",".join(texts).replace("[", " ").replace("]", " "), sep=",") if texts else np.zeros(0)
    )
    if len(flat) != sum(counts) or any(c % 3 for c in counts):  # an empty or odd path
        return [np.asarray(json.loads(text), np.float64).reshape(-1, 3) for text in texts]
    return np.split(flat.reshape(-1, 3), np.cumsum(counts)[:-1] // 3)


def _reported(found: np.ndarray) -> np.ndarray:
    """The rows of ``found`` (track, frame, ..., box id) the tracker reported live: the sightings
    before a track was confirmed are stored when it ends, after its live rows (higher ids), and
    the rules never saw them."""
    by_id = found[np.lexsort((found[:, 8], found[:, 0]))]
    tracks_, first = np.unique(by_id[:, 0], return_index=True)
    first_frame = by_id[first, 1]
    return by_id[by_id[:, 1] >= first_frame[np.searchsorted(tracks_, by_id[:, 0])]]
