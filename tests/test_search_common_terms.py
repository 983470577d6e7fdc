"""Candidates on SQLite when the asked terms are common: a common driving term's filters probe
only its best rows, not every row of the window, and find what the single statement finds."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import event, text

from scenewatch.search.candidates import COUNT_CAP, _best_passing, _driven, _driven_query
from scenewatch.search.rank import Need
from scenewatch.search.scope import Scope
from scenewatch.store import repo
from scenewatch.store.data import DataStore

T0 = 1699920000.0  # 14 Nov 2023, 00:00 UTC: the people are seen over the next five and a half hours


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """COUNT_CAP + 1 people, each with a weak bag sign by the hip (as the describer writes for
    most people); a few carry a boxed backpack, with class confidences that do not follow it."""
    store = DataStore.open(tmp_path_factory.mktemp("common"))
    cam = repo.ensure_camera(store.engine, "gate", "file.mp4", 640, 480, 25.0)
    run = repo.start_run(store.engine, cam, "file.mp4", "run")
    rng = random.Random(3)
    n = COUNT_CAP + 1
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tracks (id, camera_id, run_id, tracker_id, class_name, first_ts, last_ts, "
                "first_frame, last_frame, detections, score, path, finished) "
                "VALUES (:i, :cam, :run, :i, 'person', :t, :t + 5, 0, 5, 6, 0.9, '[]', 1)"
            ),
            [{"i": i, "cam": cam, "run": run, "t": T0 + i} for i in range(1, n + 1)],
        )
        rows = []
        for i in range(1, n + 1):
            rows.append((i, "class:person", round(rng.uniform(0.4, 0.99), 3)))
            rows.append((i, "bagsign:hip", round(rng.uniform(0.1, 0.3), 3)))
            if i % 97 == 0:
                rows.append((i, "carried:backpack", round(rng.uniform(0.3, 0.95), 3)))
        conn.execute(
            text(
                "INSERT INTO track_terms (track_id, term, weight, camera_id, first_ts, last_ts) "
                "VALUES (:i, :term, :w, :cam, :t, :t + 5)"
            ),
            [{"i": i, "term": term, "w": w, "cam": cam, "t": T0 + i} for i, term, w in rows],
        )
    return store


def _vm_steps(store: DataStore, run) -> int:
    """SQLite virtual machine steps (in thousands) spent by ``run()`` on the store's connections."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    def on(dbapi, record, proxy) -> None:
        dbapi.set_progress_handler(count, 1000)

    def off(dbapi, record) -> None:
        dbapi.set_progress_handler(None, 1000)

    event.listen(store.engine, "checkout", on)
    event.listen(store.engine, "checkin", off)
    try:
        run()
    finally:
        event.remove(store.engine, "checkout", on)
        event.remove(store.engine, "checkin", off)
    return steps[0]


def _single(store: DataStore, driver: Need, bag: Need, scope: Scope) -> None:
    with store.engine.connect() as conn:
        conn.execute(_driven_query(driver, [bag], scope, False, False, 240)).all()


def _drive(store: DataStore, driver: Need, bag: Need, scope: Scope) -> None:
    with store.engine.connect() as conn:
        assert len(_driven(conn, driver, [bag], scope, 240, common=True)) == 240


def test_a_common_driving_term_is_not_probed_row_by_row(crowded):
    # 'person' and 'backpack or a bag sign' both reach the count cap and the class drives: the
    # single statement probes every person of the window for a bag before it sorts
    driver = Need("class", "person", (("class:person", 1.0),))
    bag = Need("carried", "carrying backpack", (("carried:backpack", 1.0), ("bagsign:hip", 0.3)))
    scope = Scope(start=T0, end=T0 + 86400, camera_ids=None)  # a time window: no weight-ordered read
    single = _vm_steps(crowded, lambda: _single(crowded, driver, bag, scope))
    driven = _vm_steps(crowded, lambda: _drive(crowded, driver, bag, scope))
    assert 0 < driven < single / 2


@pytest.mark.parametrize("filter_term, k", [("carried:backpack", 50), ("bagsign:hip", 60), ("upper:red", 5)])
def test_probing_the_best_rows_first_finds_what_the_single_statement_finds(crowded, filter_term, k):
    # the driving term is the commonest; a rare filter makes the probe go deeper several times
    driver = Need("class", "person", (("class:person", 1.0),))
    filters = [Need("carried", "f", ((filter_term, 1.0),))]
    scope = Scope(start=T0, end=T0 + COUNT_CAP, camera_ids=None)
    with crowded.engine.connect() as conn:
        single = [r[0] for r in conn.execute(_driven_query(driver, filters, scope, False, False, k))]
        probed = _best_passing(conn, driver, filters, scope, k)
        weights = dict(
            conn.execute(text("SELECT track_id, weight FROM track_terms WHERE term = 'class:person'")).all()
        )
    assert len(probed) == len(single)
    # the same rows, up to the order of equal weights at the cut
    assert [weights[i] for i in probed] == [weights[i] for i in single]
    assert set(probed) - set(single) <= {i for i in probed if weights[i] == weights[probed[-1]]}
