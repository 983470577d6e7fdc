"""What a replay reads from the store: a camera's stored tracks in a window, and their sightings.

The sightings are the boxes the tracker reported live: packed in one value per finished track
(``store/sightings.py``), or for a track stored before they were packed its rows of the ``boxes``
table (interpolated ones and the ones stored before it was confirmed left out); a track stored
without boxes gives its path samples with a box of nominal size (the path keeps no box size).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, Text, cast, select

from scenewatch.store.schema import tracks
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
    query = select(
        tracks.c.id,
        tracks.c.run_id,
        tracks.c.tracker_id,
        tracks.c.last_ts,
        tracks.c.class_name,
        cast(tracks.c.path, Text).label("path"),
        tracks.c.thumbnail,
    ).where(
        tracks.c.camera_id == camera_id,
        tracks.c.last_ts >= start,
        tracks.c.first_ts <= until,
        tracks.c.class_name.in_(names),
    )
    with engine.connect() as conn:
        rows = plain_rows(conn, query)
    if not rows:
        return None
    # by id, sorted here: the database would sort the rows with their path texts in a temporary tree
    rows.sort(key=lambda r: r[0])
    db_ids, run_ids, tracker_ids, last_ts, class_names, paths, thumbnails = zip(*rows, strict=True)
    known, named = np.unique(np.array(class_names), return_inverse=True)
    points, lengths = _paths(list(paths))
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
    with engine.connect() as conn:
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
    track_rows, frames, ts, xyxy, scores = (np.concatenate(p) for p in zip(*parts, strict=True))
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
