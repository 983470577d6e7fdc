"""Image-text similarity in search: track vectors stored, and a query's vector fused with the
attribute ranking (the config's ``embeddings`` section; without it nothing here runs).

Each described track's vector (``vision.clip_encoder``) is a row of ``track_vectors`` (float32
blob), written with its index rows. A search ranks by attributes as ever; then the query text's
vector scores the ranked candidates by cosine: on SQLite with sqlite-vec's
``vec_distance_cosine`` over the stored blobs (through a read-only connection of pysqlite3 to the
store's file: Python's own sqlite3 is often built without extension loading), on PostgreSQL (no
pgvector) in numpy over the candidates' rows. Either way only the attribute search's candidates are read, never the whole
table. The fused score is ``(1 - weight) * attributes + weight * similarity`` (similarity mapped
to 0..1 by ``similarity_range``; a track without a vector counts :data:`NO_VECTOR`), and the
reasons gain "image-text similarity 0.31". If the text encoder fails, the search says so in its
notes and ranks by attributes alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from scenewatch.config.embeddings import VECTOR_KEY, EmbeddingsConfig
from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import track_vectors

log = logging.getLogger(__name__)

NO_VECTOR = 0.5  # a track described without a vector: neither for nor against it
CHUNK = 500  # ids per statement
FALLBACK_NOTE = "image-text similarity is unavailable ({why}); ranked by attributes alone"

Ranked = dict[int, tuple[float, list[str]]]


def split_vector(attributes: dict | None) -> tuple[dict | None, np.ndarray | None]:
    """A description without its vector, and the vector (None when it has none)."""
    if not isinstance(attributes, dict) or VECTOR_KEY not in attributes:
        return attributes, None
    rest = {k: v for k, v in attributes.items() if k != VECTOR_KEY}
    vector = attributes[VECTOR_KEY]
    return rest, None if vector is None else np.asarray(vector, np.float32)


def store_vectors(conn: Connection, items: Iterable[tuple[int, np.ndarray]]) -> int:
    """(Re)write tracks' vectors inside the caller's transaction; returns how many."""
    rows = [
        {"track_id": i, "dim": int(v.shape[0]), "vector": np.ascontiguousarray(v, "<f4").tobytes()}
        for i, v in items
    ]
    if rows:
        conn.execute(delete(track_vectors).where(track_vectors.c.track_id.in_([r["track_id"] for r in rows])))
        conn.execute(insert(track_vectors), rows)
    return len(rows)


def read_vectors(conn: Connection, ids: Iterable[int]) -> dict[int, np.ndarray]:
    """Stored vectors of these tracks."""
    ids = list(ids)
    out: dict[int, np.ndarray] = {}
    for i in range(0, len(ids), CHUNK):
        q = select(track_vectors.c.track_id, track_vectors.c.vector)
        for track_id, blob in conn.execute(q.where(track_vectors.c.track_id.in_(ids[i : i + CHUNK]))):
            out[track_id] = np.frombuffer(blob, "<f4")
    return out


def similarities(conn: Connection, ids: list[int], query: np.ndarray) -> dict[int, float]:
    """Cosine of each candidate's stored vector with ``query`` (candidates without one, or of
    another dimension, are left out)."""
    if not ids:
        return {}
    if conn.dialect.name == "sqlite" and conn.engine.url.database not in (None, "", ":memory:"):
        return _sqlite_vec(Path(conn.engine.url.database), ids, query)
    q = query.astype(np.float32)
    return {i: float(v @ q) for i, v in read_vectors(conn, ids).items() if v.shape == q.shape}


# ---------------------------------------------------------------- SQLite: sqlite-vec

_local = threading.local()


def _vec_connection(path: Path):
    """This thread's read-only connection to the store's file, with sqlite-vec loaded."""
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    conn = cache.get(path)
    if conn is None:
        sqlite, sqlite_vec = vec_modules()
        conn = sqlite.connect(str(path), timeout=30, check_same_thread=False)
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        conn.execute("PRAGMA query_only=ON")
        cache[path] = conn
    return conn


def vec_modules():
    """pysqlite3 and sqlite-vec, or a clear error saying what to install."""
    try:
        import pysqlite3.dbapi2 as sqlite
        import sqlite_vec
    except ImportError:
        raise SceneWatchError(
            "embeddings: image-text search on SQLite needs the sqlite-vec and pysqlite3 packages",
            "pip install 'scenewatch[clip]', or remove the embeddings section",
        ) from None
    return sqlite, sqlite_vec


def _sqlite_vec(path: Path, ids: list[int], query: np.ndarray) -> dict[int, float]:
    conn = _vec_connection(path)
    blob = np.ascontiguousarray(query, "<f4").tobytes()
    out: dict[int, float] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT track_id, 1.0 - vec_distance_cosine(vector, ?) FROM track_vectors "
            f"WHERE track_id IN ({marks}) AND dim = ?",
            (blob, *chunk, int(query.shape[0])),
        )
        out.update((int(t), float(s)) for t, s in rows)
    conn.commit()  # end the read: the next search sees tracks written since
    return out


# ---------------------------------------------------------------- fusion


class VectorRanker:
    """Fuses image-text similarity into a search's ranked candidates. ``encode`` maps the query
    text to its vector (None when the encoder failed)."""

    def __init__(self, config: EmbeddingsConfig, encode):
        self.config = config
        self.encode = encode

    def fuse(self, conn: Connection, text: str, best: Ranked, notes: list[str]) -> Ranked:
        """``best`` rescored with the query's similarity to each track, reasons added."""
        if not best:
            return best
        query = self.encode(text)
        if query is None:
            notes.append(FALLBACK_NOTE.format(why="the text encoder failed"))
            return best
        try:
            sims = similarities(conn, list(best), query)
        except Exception as exc:  # a broken side connection must not cost the search
            log.warning("embeddings: reading track vectors failed: %s", exc)
            notes.append(FALLBACK_NOTE.format(why="the track vectors could not be read"))
            return best
        low, high = self.config.similarity_range
        w = self.config.weight
        fused: Ranked = {}
        for track_id, (score, reasons) in best.items():
            sim = sims.get(track_id)
            s = NO_VECTOR if sim is None else min(1.0, max(0.0, (sim - low) / (high - low)))
            why = "no image vector" if sim is None else f"image-text similarity {sim:.2f}"
            fused[track_id] = ((1.0 - w) * score + w * s, [*reasons, why])
        return fused


def vector_ranker(config: EmbeddingsConfig | None) -> VectorRanker | None:
    """The search's ranker for a config (None without the section); the encoders are opened
    and checked here, so a bad file is reported at startup."""
    if config is None:
        return None
    from scenewatch.vision.clip_encoder import open_encoders

    vec_modules()
    encoders = open_encoders(config)
    return VectorRanker(config, encoders.text_vector)
