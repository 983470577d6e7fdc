"""The shortcuts a week's replay takes decide as the ways they replace: the ray test one edge at a
time, the sorts that skip a key, the paths packed beside the sightings (migration 0014) and the
collector paused while a replay runs."""

from __future__ import annotations

import gc
from dataclasses import asdict

import numpy as np
import pytest
from sqlalchemy import select, update
from test_rule_replay import SYNTHETIC, _handed_over, _store_history, _wander
from test_track_sightings import _store as _sightings_store
from test_track_sightings import down_and_up

from scenewatch.central.pg import TempCluster, pg_bin_dir
from scenewatch.config import CameraConfig
from scenewatch.geometry import points_in_polygon
from scenewatch.rules.collector import collector_paused
from scenewatch.rules.replay import ReplayError, replay
from scenewatch.rules.replay_load import load_tracks
from scenewatch.rules.replay_select import by_key_then_time, time_order
from scenewatch.store.schema import track_sightings
from scenewatch.store.schema import tracks as track_rows
from scenewatch.store.sightings import pack_finished


def all_edges_at_once(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """The ray test as it was, every point against every edge in one [N, M] step."""
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    px, py = points[:, :1], points[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    return np.count_nonzero(((y0 > py) != (y1 > py)) & (px < cross_x), axis=1) % 2 == 1


def test_the_ray_test_edge_by_edge_decides_as_all_edges_at_once():
    """Random polygons (concave, level and upright edges, integer corners) and points on their
    corners, on their edges' midpoints, on the integer grid and anywhere: the same answer for
    every point, the ones on the border included."""
    rng = np.random.default_rng(17)
    for k in range(200):
        corners = int(rng.integers(3, 9))
        polygon = (
            rng.integers(0, 40, (corners, 2)).astype(float) if k % 2 else rng.uniform(0, 40, (corners, 2))
        )
        if k % 5 == 0:  # a rectangle: level and upright edges only
            polygon = np.array([[5.0, 5.0], [30.0, 5.0], [30.0, 25.0], [5.0, 25.0]])
        points = np.r_[
            rng.integers(-2, 42, (2000, 2)).astype(float),
            rng.uniform(-2, 42, (2000, 2)),
            polygon,
            (polygon + np.roll(polygon, -1, axis=0)) / 2,
        ]
        points = points.astype(np.float32).astype(np.float64)  # as the feet of float32 boxes
        np.testing.assert_array_equal(points_in_polygon(points, polygon), all_edges_at_once(points, polygon))


def test_the_shortened_sorts_give_the_lexsort_orders():
    """Sightings by row then time (rows and times tied), and keys mostly following the rows (a
    few carried identities, a few fresh negative ones): the one-key sorts give ``np.lexsort``'s
    order exactly, also where their premise fails (they fall back)."""
    rng = np.random.default_rng(3)
    for k in range(30):
        n = int(rng.integers(1, 3000))
        row = np.sort(rng.integers(0, n // 10 + 1, n))
        ts = np.round(rng.uniform(0, 50, n), 1)
        ts = np.concatenate([np.sort(ts[row == r]) for r in np.unique(row)])  # each row in time order
        if k % 3 == 0:  # not by row: the premise fails
            row = rng.permutation(row)
        np.testing.assert_array_equal(time_order(row, ts), np.lexsort((row, ts)))
        key = row + 1
        carried = rng.random(n) < 0.05
        key[carried] = rng.integers(-5, n // 10 + 2, int(carried.sum()))
        np.testing.assert_array_equal(by_key_then_time(key, ts), np.lexsort((ts, key)))
        np.testing.assert_array_equal(by_key_then_time(row, ts), np.lexsort((ts, row)))


def _history(tmp_path):
    rng = np.random.default_rng(23)
    t0 = 1_700_000_000.0
    walks = [_wander(rng, t0 + start) for start in np.sort(rng.uniform(0, 200, 40))]
    walks += [piece for start in rng.uniform(0, 200, 10) for piece in _handed_over(rng, t0 + start)]
    return _store_history(tmp_path / "data", walks), t0


def test_packed_paths_are_the_json_paths_and_replay_alike(tmp_path):
    """The writer packs a finished track's path beside its sightings; migration 0014 fills in the
    ones packed before it, and goes down and up again. Whether a track's path is packed, filled
    in or left as JSON alone, a replay reads the same points and raises the same events."""
    store, t0 = _history(tmp_path)
    camera = CameraConfig.model_validate(SYNTHETIC)
    with store.engine.begin() as conn:
        ids = list(conn.scalars(select(track_rows.c.id).order_by(track_rows.c.id)))
        pack_finished(conn, ids[::2])  # the others: finished before sightings were packed
    reference = load_tracks(store.engine, 1, ["person"], t0, t0 + 1000)
    assert reference is not None
    with store.engine.connect() as conn:
        packed = dict(conn.execute(select(track_sightings.c.track_id, track_sightings.c.path_packed)).all())
    assert sorted(packed) == ids[::2]
    for row, db_id in enumerate(reference.db_ids.tolist()):
        if db_id in packed:  # the same float64 values as the JSON gives
            assert packed[db_id] == reference.path(row).tobytes()
    events = {
        rule.name: replay(store.engine, camera, rule.name, t0, until=t0 + 1000) for rule in camera.rules
    }
    assert all(result.events for result in events.values())
    # packed before migration 0014: down to 0013 (the column goes) and up again (filled in)
    down_and_up(store.engine, "0013")
    with store.engine.connect() as conn:
        filled = dict(conn.execute(select(track_sightings.c.track_id, track_sightings.c.path_packed)).all())
    assert filled == packed
    # some packed, some not: the points fall in place
    with store.engine.begin() as conn:
        conn.execute(
            update(track_sightings).where(track_sightings.c.track_id.in_(ids[::4])).values(path_packed=None)
        )
    mixed = load_tracks(store.engine, 1, ["person"], t0, t0 + 1000)
    assert mixed is not None
    np.testing.assert_array_equal(mixed.points, reference.points)
    np.testing.assert_array_equal(mixed.path_ends, reference.path_ends)
    for rule in camera.rules:
        again = replay(store.engine, camera, rule.name, t0, until=t0 + 1000)
        assert [asdict(e) for e in again.events] == [asdict(e) for e in events[rule.name].events], rule.name


def test_a_replay_leaves_the_collector_as_it_found_it(tmp_path):
    """The cyclic garbage collector is paused while a replay runs and resumed after it, even when
    the replay fails; one paused by the caller stays paused."""
    store, t0 = _history(tmp_path)
    camera = CameraConfig.model_validate(SYNTHETIC)
    assert gc.isenabled()
    replay(store.engine, camera, "intrusion-lawn", t0, until=t0 + 1000)
    assert gc.isenabled()
    broken = camera.model_copy(update={"name": "nowhere"})  # no stored tracks: an error
    with pytest.raises(ReplayError):
        replay(store.engine, broken, "intrusion-lawn", t0, until=t0 + 1000)
    assert gc.isenabled()
    gc.disable()
    try:
        replay(store.engine, camera, "intrusion-lawn", t0, until=t0 + 1000)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_replays_resume_the_collector_only_when_the_last_ends():
    """Two replays at once (two API requests): the first to end leaves the collector paused for
    the other, and the last one restores it."""
    assert gc.isenabled()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


@pytest.mark.skipif(pg_bin_dir() is None, reason="needs the PostgreSQL server binaries")
def test_postgres_fills_in_the_packed_paths(tmp_path):
    """On PostgreSQL too, migration 0014 fills in the paths of sightings packed before it (as
    float64 rows of the JSON path) and goes down and up again."""
    with TempCluster() as cluster:
        url = cluster.create_database("paths", "paths", "paths-pw")
        store, ids, _live = _sightings_store(tmp_path, url)
        with store.engine.begin() as conn:
            pack_finished(conn, ids)
            paths = dict(conn.execute(select(track_rows.c.id, track_rows.c.path)).all())
        down_and_up(store.engine, "0013")
        with store.engine.connect() as conn:
            filled = dict(
                conn.execute(select(track_sightings.c.track_id, track_sightings.c.path_packed)).all()
            )
        assert sorted(filled) == sorted(ids)
        for db_id in ids:
            assert filled[db_id] == np.asarray(paths[db_id], "<f8").reshape(-1, 3).tobytes()
