"""The search's shape: its modules point down the layers and stay small, and the planner's term
statistics are an object its user owns (PostgreSQL, a real throw-away cluster)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from scenewatch.central.pg import TempCluster
from scenewatch.search.candidates import COUNT_CAP
from scenewatch.search.engine import search
from scenewatch.search.term_stats import TermShares
from scenewatch.store import repo
from scenewatch.store.data import DataStore

PACKAGE = Path(__file__).resolve().parent.parent / "scenewatch"
DATA_TABLES = {"lexicon.py"}  # the query vocabulary: a table, not logic


def _imports(path: Path) -> set[str]:
    """The scenewatch modules ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scenewatch"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("scenewatch"))
    return found


def test_search_and_store_never_import_the_central_or_the_api():
    """The day partitions live in the store; the search and the migrations reach down to them."""
    paths = [*(PACKAGE / "search").rglob("*.py"), *(PACKAGE / "store").rglob("*.py")]
    wrong = [
        f"{p.relative_to(PACKAGE)} -> {i}"
        for p in paths
        for i in _imports(p)
        if i.startswith(("scenewatch.central", "scenewatch.api"))
    ]
    assert wrong == []


def test_search_modules_and_functions_stay_small():
    too_long = []
    for path in sorted((PACKAGE / "search").glob("*.py")):
        source = path.read_text()
        if path.name not in DATA_TABLES and source.count("\n") > 400:
            too_long.append(f"{path.name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and node.end_lineno - node.lineno + 1 > 60:
                too_long.append(f"{path.name}:{node.name}")
    assert too_long == []


# ---------------------------------------------------------------- term statistics on PostgreSQL


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """A PostgreSQL store where 'person' and 'upper red' both pass the planner's count cap, so a
    search breaks the tie by the terms' statistics."""
    with TempCluster() as pg:
        folder = tmp_path_factory.mktemp("crowded")
        store = DataStore.open(folder, database_url=pg.create_database("crowded", "cr", "cr-pw"))
        cam = repo.ensure_camera(store.engine, "gate", "file.mp4", 640, 480, 25.0)
        run = repo.start_run(store.engine, cam, "file.mp4", "run")
        n = COUNT_CAP + 1
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tracks (camera_id, run_id, tracker_id, class_name, first_ts, last_ts, "
                    "first_frame, last_frame, detections, score, path, finished) "
                    "SELECT :cam, :run, g, 'person', 1.7e9 + g, 1.7e9 + g + 5, 0, 5, 6, 0.9, '[]', true "
                    "FROM generate_series(1, :n) g"
                ),
                {"cam": cam, "run": run, "n": n},
            )
            _add_term(conn, "class:person", 1.0)
            _add_term(conn, "upper:red", 0.8)
        _analyze(store)
        yield store


def _add_term(conn, term: str, weight: float) -> None:
    conn.execute(
        text(
            "INSERT INTO track_terms (track_id, term, weight, camera_id, first_ts, last_ts) "
            "SELECT id, :term, :weight, camera_id, first_ts, last_ts FROM tracks"
        ),
        {"term": term, "weight": weight},
    )


def _analyze(store: DataStore) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE track_terms")


def _shares(store: DataStore, shares: TermShares) -> dict[str, float]:
    with store.engine.connect() as conn:
        return shares.get(conn)


def test_term_statistics_are_kept_by_their_owner_for_their_ttl(crowded):
    kept = TermShares()
    before = _shares(crowded, kept)
    assert before["class:person"] == pytest.approx(0.5, abs=0.01)  # person and red: half each
    with crowded.engine.begin() as conn:
        _add_term(conn, "lower:black", 0.7)
    _analyze(crowded)
    assert _shares(crowded, kept) == before  # within its ttl: no catalogue read
    fresh = _shares(crowded, TermShares())  # another owner shares nothing with the first
    assert fresh["class:person"] == pytest.approx(1 / 3, abs=0.01)
    assert _shares(crowded, TermShares(ttl_s=0.0)) == fresh


def test_search_reads_the_statistics_through_the_object_it_is_given(crowded):
    before = _shares(crowded, TermShares())  # the catalogue as the search will find it
    shares = TermShares()
    found = search(crowded, "person in a red top", limit=5, shares=shares)
    assert len(found.results) == 5
    with crowded.engine.begin() as conn:
        _add_term(conn, "head:white", 0.6)
    _analyze(crowded)
    assert _shares(crowded, TermShares()) != before  # the catalogue has moved on ...
    assert _shares(crowded, shares) == before  # ... but the search read it once and kept it
