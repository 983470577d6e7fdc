"""A finished track's live sightings packed in one value: what a rule replay reads of a track.

The ``boxes`` table holds a row per box (live, interpolated, and those stored when a track ends
from before it was confirmed); a week of a busy camera is over a million rows, and a Python row
object each costs seconds. When a track finishes, its detected boxes (the ones the tracker
reported, and those from before it confirmed the track, which the rules date from) are packed into ``track_sightings``: little-endian float64 rows of
``COLUMNS``, read back with one ``np.frombuffer`` per query. Tracks finished before migration 0013
have no packed value: their box rows are read (``reported`` puts them in order). Beside them the
track's path (``path_packed``, migration 0014): float64 (t, x, y) rows of its JSON ``path``, which
a replay reads for every track of a week without parsing text.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from sqlalchemy import Connection, Select, and_, insert, select

from scenewatch.store.schema import boxes, track_sightings, tracks

COLUMNS = ("frame", "ts", "x1", "y1", "x2", "y2", "score")
PACKED = np.dtype("<f8")
CHUNK = 500  # track ids per query
READ_CHUNK = 10_000  # track ids per query of their packed sightings


def pack_finished(conn: Connection, db_ids: list[int]) -> int:
    """Pack the live boxes of the finished tracks ``db_ids`` (their box rows all written) into
    ``track_sightings``; returns the tracks packed."""
    packed = 0
    for i in range(0, len(db_ids), CHUNK):
        found = box_rows(conn, db_ids[i : i + CHUNK])
        if not len(found):
            continue
        tracks_, starts, counts = np.unique(found[:, 0], return_index=True, return_counts=True)
        values = found[:, 1:8].astype(PACKED)
        paths = _packed_paths(conn, tracks_.astype(np.int64).tolist())
        conn.execute(
            insert(track_sightings),
            [
                {
                    "track_id": t,
                    "count": int(n),
                    "packed": values[a : a + n].tobytes(),
                    "path_packed": paths.get(t),
                }
                for t, a, n in zip(
                    tracks_.astype(np.int64).tolist(), starts.tolist(), counts.tolist(), strict=True
                )
            ],
        )
        packed += len(tracks_)
    return packed


def _packed_paths(conn: Connection, db_ids: list[int]) -> dict[int, bytes]:
    """The stored paths of the tracks ``db_ids`` (``[[t, x, y], ...]``) as float64 rows: a replay
    reads them without parsing JSON (one that is not such a list is left to the JSON)."""
    out = {}
    for db_id, path in conn.execute(select(tracks.c.id, tracks.c.path).where(tracks.c.id.in_(db_ids))):
        try:
            points = np.asarray(path, PACKED)
        except (TypeError, ValueError):
            continue
        if not points.size or (points.ndim == 2 and points.shape[1] == 3):
            out[db_id] = points.reshape(-1, 3).tobytes()
    return out


def packed_rows(conn: Connection, db_ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tracks among ``db_ids`` that have packed sightings, by track id: [T] their ids, [T]
    their sightings' counts and [S, len(COLUMNS)] the sightings, each track's in the order seen."""
    ids: list[int] = []
    counts: list[int] = []
    blobs: list[bytes] = []
    for i in range(0, len(db_ids), READ_CHUNK):
        # integers alone, spelled out: compiling a statement per chunk costs more than reading it
        listed = ",".join(map(str, map(int, db_ids[i : i + READ_CHUNK])))
        cursor = conn.connection.cursor()
        try:
            cursor.execute(
                f"SELECT track_id, count, packed FROM track_sightings WHERE track_id IN ({listed}) "
                "ORDER BY track_id"
            )
            found = cursor.fetchall()
        finally:
            cursor.close()
        if found:  # the columns at once, not a row at a time
            some_ids, some_counts, some_blobs = zip(*found, strict=True)
            ids.extend(some_ids)
            counts.extend(some_counts)
            blobs.extend(some_blobs)
    values = np.frombuffer(b"".join(blobs), PACKED).reshape(-1, len(COLUMNS))
    return np.array(ids, np.int64), np.array(counts, np.int64), values


def box_rows(conn: Connection, db_ids: list[int]) -> np.ndarray:
    """[S, 8] (track, *COLUMNS) of the live boxes of ``db_ids`` read from the ``boxes`` table,
    sorted by track then the order they were written."""
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
    ).where(and_(boxes.c.track_id.in_(db_ids), boxes.c.interpolated.is_(False)))
    fetched = plain_rows(conn, query)
    # flat, not row by row (numpy probes each row object for array interfaces)
    flat = np.fromiter(chain.from_iterable(fetched), np.float64, 9 * len(fetched))
    return reported(flat.reshape(-1, 9))[:, :8]


def reported(found: np.ndarray) -> np.ndarray:
    """The rows of ``found`` (track, frame, ..., box id) sorted by track then frame: the sightings
    before a track was confirmed are stored when it ends, after its live rows (higher ids), and
    the rules date what the track did from them too (``RuleEngine``'s ``first_seen``)."""
    return found[np.lexsort((found[:, -1], found[:, 1], found[:, 0]))]


def plain_rows(conn: Connection, query: Select) -> list[tuple]:
    """The rows of a query of numbers and literal ids as the database driver gives them: plain
    tuples, without a result object per row (a million boxes cost seconds more through those)."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())  # DB-API: a sequence of row tuples
    finally:
        cursor.close()
