"""The store reads of grouping: the tracks next to a search's fragments, in one statement for all
their cameras and stretches of time, the first in time order where a crowd passes the cap; and a
fragment's colours read from the index's colour terms alone."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert

from scenewatch.search import neighbours
from scenewatch.search.fragments import Fragment, colour_shares, load_fragments
from scenewatch.search.loading import load_facts
from scenewatch.search.neighbours import neighbour_ids
from scenewatch.search.scope import LOOKBACK_S, Scope
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes, track_terms, tracks

T0 = 1.7e9
REACH = 30.0
OPEN = Scope(None, None, None)


@pytest.fixture
def store(tmp_path):
    return DataStore.open(tmp_path / "data")


def _camera(store: DataStore, name: str) -> tuple[int, int]:
    cam = repo.ensure_camera(store.engine, name, "file.mp4", 640, 480, 25.0)
    return cam, repo.start_run(store.engine, cam, "file.mp4", "run")


def _track(
    store: DataStore, where: tuple[int, int], first: float, last: float, terms: dict | None = None
) -> int:
    cam, run = where
    values = {
        "camera_id": cam,
        "run_id": run,
        "tracker_id": 1,
        "class_name": "person",
        "first_ts": first,
        "last_ts": last,
        "first_frame": 0,
        "last_frame": 9,
        "detections": 10,
        "score": 0.8,
        "path": [[first, 100.0, 300.0], [last, 160.0, 300.0]],
        "finished": True,
    }
    with store.engine.begin() as conn:
        track_id = conn.execute(insert(tracks).values(**values).returning(tracks.c.id)).scalar_one()
        for frame, x in ((0, 100.0), (9, 160.0)):
            box = {"track_id": track_id, "frame": frame, "ts": first, "x1": x - 20, "y1": 220.0, "x2": x + 20}
            conn.execute(insert(boxes).values(**box, y2=300.0, score=0.9))
        for term, weight in (terms or {}).items():
            row = {"track_id": track_id, "term": term, "weight": weight, "camera_id": cam}
            conn.execute(insert(track_terms).values(**row, first_ts=first, last_ts=last))
    return track_id


def _fragment(where: tuple[int, int], first: float, last: float) -> Fragment:
    return Fragment(0, where[0], "person", first, last, (0.0, 0.0, 80.0), (0.0, 0.0, 80.0))


def _statements(store: DataStore) -> list[str]:
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt))
    return seen


def test_neighbours_of_every_camera_and_stretch_are_read_in_one_statement(store):
    """Tracks that begin or end within reach of a fragment, on its camera, are found (one that
    ends there having begun more than LOOKBACK_S before is not, nor one out of reach, on another
    camera, or out of the scope's time), for two cameras and two stretches each at once."""
    gate, hall, yard = _camera(store, "gate"), _camera(store, "hall"), _camera(store, "yard")
    want: dict[float, set[int]] = {T0: set(), T0 + 5000: set()}
    fragments = []
    for where in (gate, hall):
        for at in want:
            fragments.append(_fragment(where, at, at + 10))
            want[at].add(_track(store, where, at + 20, at + 60))  # begins after it, within reach
            want[at].add(_track(store, where, at - 600, at - 25))  # ends before it, within reach
            _track(store, where, at - LOOKBACK_S - 100, at - 5)  # began more than an hour before
            _track(store, where, at + 45, at + 90)  # begins out of reach
        _track(store, yard, T0, T0 + 10)  # another camera
    seen = _statements(store)
    with store.engine.connect() as conn:
        assert neighbour_ids(conn, fragments, OPEN, REACH) == want[T0] | want[T0 + 5000]
        assert len(seen) == 1
        late = Scope(T0 + 4000, None, None)  # the scope's time leaves out the first stretch
        assert neighbour_ids(conn, fragments, late, REACH) == want[T0 + 5000]


@pytest.mark.parametrize("crowd", [4, 9])  # read at once, and past twice the cap: by stretch
def test_a_crowd_gives_the_first_neighbours_in_time_order_camera_by_camera(store, monkeypatch, crowd):
    monkeypatch.setattr(neighbours, "MAX_NEIGHBOURS", 3)
    gate, hall = _camera(store, "gate"), _camera(store, "hall")
    late = [_track(store, gate, T0 + 20 - k, T0 + 40) for k in range(crowd)]  # later ids begin earlier
    _track(store, hall, T0, T0 + 10)
    fragments = [_fragment(gate, T0, T0 + 10), _fragment(hall, T0, T0 + 10)]
    with store.engine.connect() as conn:
        assert neighbour_ids(conn, fragments, OPEN, REACH) == set(late[-3:])
    monkeypatch.setattr(neighbours, "MAX_NEIGHBOURS", crowd + 1)  # room for one of the next camera
    with store.engine.connect() as conn:
        found = neighbour_ids(conn, fragments, OPEN, REACH)
    assert set(late) < found and len(found) == crowd + 1


def test_a_fragment_s_colours_are_its_basic_colour_terms_read_alone(store):
    terms = {
        "class:person": 1.0,
        "upper:red": 0.6,
        "upper:blue": 0.3,
        "upper:blue:dark": 0.3,  # a shade: not a share of the part
        "lower:black": 0.9,
        "head:brown": 0.0,  # no share
        "carried:backpack": 0.8,
        "heading:left": 0.7,
    }
    track_id = _track(store, _camera(store, "gate"), T0, T0 + 10, terms)
    seen = _statements(store)
    with store.engine.connect() as conn:
        facts = load_facts(conn, [track_id])
        read = load_fragments(conn, [track_id])[track_id]
        given = load_fragments(conn, [track_id], facts)[track_id]
    assert read.colours == given.colours == colour_shares(terms)
    assert read.colours == {"upper": {"red": 0.6, "blue": 0.3}, "lower": {"black": 0.9}}
    assert "track_terms.term LIKE" in seen[1]  # the colour terms of the index, not every fact
