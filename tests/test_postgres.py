"""The same schema, migrations and answers on PostgreSQL as on SQLite.

A throw-away cluster (``scenewatch/central/pg.py``): migrations run to head and back, the
database matches ``schema.py`` (plus the PostgreSQL-only indexes), and the same synthetic tracks
give the same listings and the same search results on both engines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from scenewatch.central.pg import TempCluster, pg_bin_dir
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.db import _alembic_config, current_revision, head_revision
from scenewatch.store.schema import metadata

pytest.importorskip("psycopg", reason="psycopg 3 (pip install 'psycopg[binary]') is not installed")
pytestmark = pytest.mark.skipif(
    pg_bin_dir() is None, reason="PostgreSQL server binaries not found (Debian package postgresql)"
)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import search_scale  # noqa: E402  (the synthetic track generator)

PG_ONLY = {"ixpg_tracks_attributes"}
N_TRACKS = 3000


@pytest.fixture(scope="module")
def cluster():
    with TempCluster() as pg:
        yield pg


@pytest.fixture(scope="module")
def stores(cluster, tmp_path_factory):
    """The same synthetic tracks in SQLite and in PostgreSQL."""
    folder = tmp_path_factory.mktemp("same-data")
    lite = DataStore.open(folder / "sqlite")
    pg = DataStore.open(folder / "pg", database_url=cluster.create_database("same", "same", "same-pw"))
    for store in (lite, pg):
        search_scale.fill(store, N_TRACKS, seed=11)
    return lite, pg


def _diff(engine) -> list:
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), metadata)
    return [d for d in found if not (d[0] == "remove_index" and d[1].name in PG_ONLY)]


def test_migrations_build_the_declared_schema_with_postgres_indexes(cluster):
    url = cluster.create_database("migrated", "mig", "mig-pw")
    store = DataStore.open(Path("/nonexistent"), database_url=url)
    assert current_revision(store.engine) == head_revision() == "0007"
    assert _diff(store.engine) == []
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("tracks")}
    assert indexes >= PG_ONLY
    with store.engine.connect() as conn:
        method = conn.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ixpg_tracks_attributes'")
        )
    assert "USING gin" in method and "jsonb_path_ops" in method
    # down to 0006 and up again: the migration is reversible on PostgreSQL
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    assert "edges" not in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert _diff(store.engine) == []


def test_sqlite_migration_0007_is_reversible(tmp_path):
    store = DataStore.open(tmp_path)
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    assert "edge_id" not in {c["name"] for c in inspect(store.engine).get_columns("tracks")}
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert _diff(store.engine) == []


def test_listings_are_the_same_on_both_engines(stores):
    lite, pg = stores
    assert repo.count_tracks(lite.engine) == repo.count_tracks(pg.engine) == N_TRACKS
    for kwargs in ({}, {"camera": "lobby", "class_name": "person"}, {"since": 1.7160e9, "limit": 50}):
        assert repo.list_tracks(lite.engine, **kwargs) == repo.list_tracks(pg.engine, **kwargs), kwargs
    assert repo.get_track(lite.engine, 1234) == repo.get_track(pg.engine, 1234)


QUERIES = [
    "person in a red top",
    "person with a backpack yesterday",
    "white car in the last 2 days",
    "person in a blue top and black trousers walking left",
    "穿红色上衣的人",
    "person lying down",
    "red car and a person with a handbag",
    "bus",
]


@pytest.mark.parametrize("query", QUERIES)
def test_search_gives_the_same_answers_on_both_engines(stores, query):
    from scenewatch.search.engine import search

    lite, pg = stores
    a = search(lite, query, now=search_scale.NOW, limit=30)
    b = search(pg, query, now=search_scale.NOW, limit=30)
    assert a.results, f"{query!r} found nothing: the comparison would prove nothing"
    assert [(h.track_id, round(h.score, 6), h.reasons) for h in a.results] == [
        (h.track_id, round(h.score, 6), h.reasons) for h in b.results
    ]
    assert a.understood == b.understood
