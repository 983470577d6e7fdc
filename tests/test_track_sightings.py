"""Packed sightings: a finished track's live boxes in one value are exactly the live rows of the
``boxes`` table; migration 0013 is reversible and a track's deletion takes its packed value."""

from __future__ import annotations

import numpy as np
import pytest
from alembic import command
from sqlalchemy import delete, func, insert, inspect, select

from scenewatch.central.pg import TempCluster, pg_bin_dir
from scenewatch.store import partitions, repo
from scenewatch.store.data import DataStore
from scenewatch.store.db import _alembic_config
from scenewatch.store.schema import boxes, track_sightings, tracks
from scenewatch.store.sightings import box_rows, pack_finished, packed_rows


def down_and_up(engine, revision: str) -> None:
    """The store's schema down to ``revision`` and up to the head again, in one transaction."""
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        command.upgrade(config, "head")


def _track(conn, camera_id: int, run: int, tracker_id: int, frames: np.ndarray) -> int:
    ts = frames / 10.0
    return conn.execute(
        insert(tracks).returning(tracks.c.id),
        {
            "camera_id": camera_id,
            "run_id": run,
            "tracker_id": tracker_id,
            "class_name": "person",
            "first_ts": float(ts[0]),
            "last_ts": float(ts[-1]),
            "first_frame": int(frames[0]),
            "last_frame": int(frames[-1]),
            "detections": len(frames),
            "score": 0.8,
            "path": [[float(ts[0]), 1.0, 2.0]],
            "finished": True,
        },
    ).scalar_one()


def _boxes(conn, db_id: int, frames: np.ndarray, rng: np.random.Generator, interpolated: bool) -> None:
    xyxy = rng.uniform(0, 600, (len(frames), 4))
    conn.execute(
        insert(boxes),
        [
            {
                "track_id": db_id,
                "frame": int(f),
                "ts": f / 10.0,
                "score": float(s),
                "interpolated": interpolated,
            }
            | dict(zip(("x1", "y1", "x2", "y2"), map(float, box), strict=True))
            for f, box, s in zip(frames, xyxy, rng.uniform(0.3, 1.0, len(frames)), strict=True)
        ],
    )


def _store(tmp_path, database_url: str | None = None) -> tuple[DataStore, list[int], dict[int, int]]:
    """Tracks written as the writer writes them: live boxes as they come, then at the track's end
    the interpolated ones and the ones from before it was confirmed (earlier frames, later rows);
    the tracks interleaved as on a camera with several people on view. Returns the store, the
    track ids and each one's detected (not interpolated) box count."""
    rng = np.random.default_rng(4)
    store = DataStore.open(tmp_path / "data", database_url=database_url)
    partitions.ensure(store.engine, [10.0])  # PostgreSQL: the day the tracks start on
    camera_id = repo.ensure_camera(store.engine, "yard", "rtsp://127.0.0.1/yard", 640, 480, 10.0)
    run = repo.start_run(store.engine, camera_id, "rtsp://127.0.0.1/yard", "live")
    ids, live = [], {}
    with store.engine.begin() as conn:
        for k in range(12):
            first = 100 + 7 * k
            frames = first + np.sort(rng.choice(60, int(rng.integers(5, 40)), replace=False))
            db_id = _track(conn, camera_id, run, k + 1, frames)
            ids.append(db_id)
            live[db_id] = len(frames)
            for part in np.array_split(frames, 3):  # a flush at a time, other tracks' rows between
                _boxes(conn, db_id, part, rng, False)
                _boxes(conn, ids[0], np.array([10_000 + len(live) * 100 + len(part)]), rng, True)
        for db_id in ids:
            if db_id % 2:  # confirmed late: its first sightings written when it ended
                frames = conn.scalars(select(boxes.c.frame).where(boxes.c.track_id == db_id)).all()
                _boxes(conn, db_id, np.arange(min(frames) - 3, min(frames)), rng, False)
                live[db_id] += 3  # detected too: the rules date what the track did from them
    return store, ids, live


def test_packed_sightings_are_the_detected_box_rows_in_frame_order(tmp_path):
    store, ids, live = _store(tmp_path)
    with store.engine.begin() as conn:
        reference = box_rows(conn, ids)
        assert pack_finished(conn, ids) == len(ids)
    with store.engine.connect() as conn:
        tracks_, counts, values = packed_rows(conn, ids)
        some, _, _ = packed_rows(conn, ids[3:5])
    # the same values bit for bit, each track's in frame order (its first sightings written last)
    assert np.column_stack([np.repeat(tracks_, counts), values]).tobytes() == reference.tobytes()
    assert dict(zip(tracks_.tolist(), counts.tolist(), strict=True)) == live  # no interpolated box
    for part in np.split(values[:, 0], np.cumsum(counts)[:-1]):
        assert (np.diff(part) > 0).all()
    assert some.tolist() == ids[3:5]


def test_migration_0013_is_reversible_and_a_deleted_track_takes_its_sightings(tmp_path):
    store, ids, _live = _store(tmp_path)
    with store.engine.begin() as conn:
        pack_finished(conn, ids)
        conn.execute(delete(tracks).where(tracks.c.id == ids[2]))
        assert conn.scalar(select(func.count()).select_from(track_sightings)) == len(ids) - 1
        assert not conn.scalar(select(func.count()).where(track_sightings.c.track_id == ids[2]))
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012")
    assert "track_sightings" not in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with store.engine.connect() as conn:
        assert not len(packed_rows(conn, ids)[0])  # packed again only when tracks finish


@pytest.mark.skipif(pg_bin_dir() is None, reason="needs the PostgreSQL server binaries")
def test_postgres_deletes_a_tracks_sightings_with_it(tmp_path):
    """PostgreSQL's tracks are partitioned (no foreign key can point at them): the delete trigger
    takes the packed sightings along, and migration 0013 goes down and up again."""
    with TempCluster() as cluster:
        url = cluster.create_database("sightings", "sight", "sight-pw")
        store, ids, live = _store(tmp_path, url)
        with store.engine.begin() as conn:
            assert pack_finished(conn, ids) == len(ids)
            conn.execute(delete(tracks).where(tracks.c.id.in_(ids[:3])))
        with store.engine.connect() as conn:
            packed, counts, _values = packed_rows(conn, ids)
        assert packed.tolist() == ids[3:]
        assert counts.tolist() == [live[i] for i in ids[3:]]
        down_and_up(store.engine, "0012")
        with store.engine.begin() as conn:
            pack_finished(conn, ids[3:5])
            conn.execute(delete(tracks).where(tracks.c.id == ids[3]))
        with store.engine.connect() as conn:
            assert packed_rows(conn, ids)[0].tolist() == [ids[4]]
        # retention drops whole days of tracks (no delete trigger runs): their sightings go too
        assert partitions.drop_before(store.engine, 10 * 86400.0) > 0
        with store.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(track_sightings)) == 0
