"""What a replay reads from the store: a camera's stored tracks in a window, and their sightings.

The sightings are the boxes the tracker reported live: packed in one value per finished track
(``store/sightings.py``), or for a track stored before they were packed its rows of the ``boxes``
table (interpolated ones and the ones stored before it was confirmed left out); a track stored
without boxes gives its path samples with a box of nominal size (the path keeps no box size).
A track's path is read packed beside its sightings (migration 0014), else parsed from its JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
from sqlalchemy import Connection, Engine, Text, case, cast, select

from scenewatch.store.schema import track_sightings, tracks
from scenewatch.store.sightings import CHUNK, box_rows, packed_rows, plain_rows
from scenewatch.vision.labels import class_id

NOMINAL_HEIGHT = 0.2  # of the frame height: the box of a track stored without boxes


@dataclass
class StoredTracks:
    """The stored tracks of the window, parallel arrays (one row a track)."""

    db_ids: np.ndarray
    run_ids: np.ndarray
    tracker_ids: np.ndarray
    class_ids: np.ndarray
    last_ts: np.ndarray
    points: np.ndarray  # [P, 3] time, x, y: the tracks' paths one after another
    path_ends: np.ndarray  # [N] where each track's path ends in ``points``
    thumbnails: list[str | None]

    def path(self, row: int) -> np.ndarray:
        """[K, 3] the path of the track at ``row``."""
        return self.points[(self.path_ends[row - 1] if row else 0) : self.path_ends[row]]


def load_tracks(
    engine: Engine, camera_id: int, names: list[str], start: float, until: float
) -> StoredTracks | None:
    # the path packed beside the sightings (migration 0014), else its JSON text
    packed = track_sightings.c.path_packed
    query = (
        select(
            tracks.c.id,
            tracks.c.run_id,
            tracks.c.tracker_id,
            tracks.c.last_ts,
            tracks.c.class_name,
            packed,
            case((packed.is_(None), cast(tracks.c.path, Text)), else_=None).label("path"),
            tracks.c.thumbnail,
        )
        .select_from(tracks.outerjoin(track_sightings, track_sightings.c.track_id == tracks.c.id))
        .where(
            tracks.c.camera_id == camera_id,
            tracks.c.last_ts >= start,
            tracks.c.first_ts <= until,
            tracks.c.class_name.in_(names),
        )
    )
    with engine.connect() as conn, _mapped(conn):
        rows = plain_rows(conn, query)
    if not rows:
        return None
    # by id, sorted here: the database would sort the rows with their path texts in a temporary tree
    rows.sort(key=itemgetter(0))
    db_ids, run_ids, tracker_ids, last_ts, class_names, blobs, paths, thumbnails = zip(*rows, strict=True)
    known, named = np.unique(np.array(class_names), return_inverse=True)
    points, lengths = _all_paths(blobs, paths)
    return StoredTracks(
        db_ids=np.array(db_ids, np.int64),
        run_ids=np.array(run_ids, np.int64),
        tracker_ids=np.array(tracker_ids, np.int64),
        class_ids=np.array([class_id(name) for name in known.tolist()], np.int32)[named],
        last_ts=np.array(last_ts, np.float64),
        points=points,
        path_ends=np.cumsum(lengths),
        thumbnails=list(thumbnails),
    )


MAPPED = 1 << 30  # bytes of a SQLite file a replay's reads may map


@contextmanager
def _mapped(conn: Connection) -> Iterator[None]:
    """SQLite reads the file through a memory map meanwhile: a week's packed values are read
    in place instead of copied through a small page cache a page at a time (a third of their
    reading time); the connection's setting is put back after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
    conn.exec_driver_sql(f"PRAGMA mmap_size={MAPPED}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA mmap_size={int(before or 0)}")


def size_from_paths(points: np.ndarray) -> tuple[int, int]:
    """A frame size that holds every path point (a camera row without its size)."""
    return int(points[:, 1].max()) + 1, int(points[:, 2].max()) + 1


def load_sightings(
    engine: Engine, stored: StoredTracks, rows: np.ndarray, size: tuple[int, int], packed: bool = True
) -> dict[str, np.ndarray]:
    """Every sighting of the tracks at ``rows``: their packed live boxes, else their rows of the
    ``boxes`` table (``packed=False``: those alone), else their path samples."""
    parts: list[tuple[np.ndarray, ...]] = []
    with_boxes: set[int] = set()
    db_ids = stored.db_ids[rows].tolist()
    with engine.connect() as conn, _mapped(conn):
        ids, counts, values = packed_rows(conn, db_ids) if packed else (np.zeros(0, np.int64),) * 3
        # tracks finished before sightings were packed: their rows of the boxes table
        rest = np.setdiff1d(db_ids, ids).tolist()
        found = [box_rows(conn, rest[i : i + CHUNK]) for i in range(0, len(rest), CHUNK)]
    if len(ids):
        packed_at = np.searchsorted(stored.db_ids, ids)  # ids ascend
        with_boxes.update(packed_at.tolist())
        parts.append(
            (
                np.repeat(packed_at, counts),
                values[:, 0].astype(np.int64),
                values[:, 1],
                values[:, 2:6],
                values[:, 6],
            )
        )
    for part in found:
        if len(part):
            track_rows = np.searchsorted(stored.db_ids, part[:, 0].astype(np.int64))
            with_boxes.update(np.unique(track_rows).tolist())
            parts.append((track_rows, part[:, 1].astype(np.int64), part[:, 2], part[:, 3:7], part[:, 7]))
    height = NOMINAL_HEIGHT * size[1]
    for row in rows.tolist():
        if row in with_boxes:
            continue
        path = stored.path(row)
        x, y = path[:, 1], path[:, 2]
        xyxy = np.stack([x - 0.2 * height, y - height, x + 0.2 * height, y], axis=1)
        parts.append(
            (np.full(len(path), row), np.full(len(path), -1, np.int64), path[:, 0], xyxy, np.ones(len(path)))
        )
    if not parts:
        return {"run": np.zeros(0, np.int64)}
    # one part (all packed, the usual week): its columns as they are, without another copy
    joined = parts[0] if len(parts) == 1 else tuple(np.concatenate(p) for p in zip(*parts, strict=True))
    track_rows, frames, ts, xyxy, scores = joined
    # each track's sightings together, in time order (as the packed ones come)
    step, later = np.diff(track_rows), np.diff(ts) > 0
    ordered = bool(np.all((step > 0) | ((step == 0) & later)))
    order = slice(None) if ordered else np.lexsort((ts, track_rows))
    return {
        "row": track_rows[order],
        "run": stored.run_ids[track_rows[order]],
        "frame": frames[order],
        "ts": ts[order],
        "xyxy": xyxy[order],
        "score": scores[order],
    }


def _all_paths(
    blobs: tuple[bytes | None, ...], texts: tuple[str | None, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """[P, 3] the tracks' path points one after another and [N] each one's length: read from
    the packed ones, parsed from the JSON texts of the others."""
    has = np.fromiter(map(_is_value, blobs), bool, len(blobs))
    if not has.any():
        return _paths([str(text) for text in texts])
    packed = [blob for blob in blobs if blob is not None]
    points = np.frombuffer(b"".join(packed), "<f8").reshape(-1, 3)
    lengths = np.fromiter(map(len, packed), np.int64, len(packed)) // 24
    if has.all():
        return points, lengths
    parsed, counts = _paths([str(text) for text, there in zip(texts, has.tolist(), strict=True) if not there])
    every = np.zeros(len(has), np.int64)
    every[has], every[~has] = lengths, counts
    # each point's place among all: its track's start plus its place in the track
    starts = np.cumsum(every) - every
    out = np.empty((int(every.sum()), 3))
    for mine, found, sizes in ((has, points, lengths), (~has, parsed, counts)):
        out[np.repeat(starts[mine] - (np.cumsum(sizes) - sizes), sizes) + np.arange(len(found))] = found
    return out, every


def _is_value(value: object) -> bool:
    return value is not None


def _paths(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The stored paths' JSON texts (``[[t, x, y], ...]``) parsed in one pass: [P, 3] their points
    one after another, and [N] each one's length."""
    counts = np.array([text.count(",") + 1 for text in texts])
    flat = (
        np.fromstring(",".join(texts).replace("[", " ").replace("]", " "), sep=",") if texts else np.zeros(0)
    )
    if len(flat) != counts.sum() or np.any(counts % 3):  # an empty or odd path
        paths = [np.asarray(json.loads(text), np.float64).reshape(-1, 3) for text in texts]
        return np.concatenate(paths), np.array([len(p) for p in paths])
    return flat.reshape(-1, 3), counts // 3
