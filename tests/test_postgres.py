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


def _expected_on_postgres(d) -> bool:
    """Differences migration 0008 makes on purpose: time partitions of tracks and track_terms."""
    if d[0] in ("remove_index", "add_index") and d[1].name in PG_ONLY | {"ix_tracks_edge_id_edge_row"}:
        return True  # PG-only GIN; the edge key also holds first_ts, the partition column
    if d[0] == "add_fk" and d[1].name in (
        "fk_boxes_track_id_tracks",
        "fk_track_terms_track_id_tracks",
        "fk_track_vectors_track_id_tracks",
        "fk_track_sightings_track_id_tracks",
    ):
        return True  # no foreign key can point at a partitioned tracks: a trigger cascades
    table = d[1].table.name if d[0].endswith("_index") else d[1].name if d[0].endswith("_table") else ""
    return table.startswith(("tracks_", "track_terms_"))  # the partitions themselves


def _diff(engine) -> list:
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), metadata)
    if engine.dialect.name == "postgresql":
        return [d for d in found if not _expected_on_postgres(d)]
    return [d for d in found if not (d[0] == "remove_index" and d[1].name in PG_ONLY)]


def test_migrations_build_the_declared_schema_with_postgres_indexes(cluster, tmp_path):
    url = cluster.create_database("migrated", "mig", "mig-pw")
    store = DataStore.open(tmp_path, database_url=url)
    assert current_revision(store.engine) == head_revision()
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
    # windows over several day partitions, and within one day (PostgreSQL reads them day by day)
    "person in a red top in the last 3 days",
    "person in black trousers yesterday evening",
    "white car on 2024-05-20",
    "person with a backpack walking left in the last week",
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


# ---------------------------------------------------------------- time partitions (migration 0008)

DAY = 86400.0


def _shipment(first_times: list[float], last_times: list[float] | None = None, first_id: int = 1) -> dict:
    import random

    from scenewatch.search.index import term_rows

    rng = random.Random(5)
    last_times = last_times or [t + 30 for t in first_times]
    tracks = []
    for i, (first, last) in enumerate(zip(first_times, last_times, strict=True), start=first_id):
        attrs = search_scale.attributes(rng, "person", search_scale.ZONES)
        row = search_scale.track_row(i, 1, 1, first, last, "person", attrs, f"thumbnails/{i}.jpg")
        terms = term_rows(i, 1, "person", first, last, attrs, row["score"])
        tracks.append({**row, "terms": [[t["term"], t["weight"]] for t in terms]})
    return {
        "schema": head_revision(),
        "instance": "test-instance",
        "version": "test",
        "backlog": 0,
        "rows": {
            "camera": [{"id": 1, "name": "gate", "source": "s", "created_at": 0.0}],
            "run": [
                {
                    "id": 1,
                    "camera_id": 1,
                    "source": "s",
                    "mode": "run",
                    "started_at": first_times[0],
                    "status": "running",
                    "frames_decoded": 0,
                    "frames_detected": 0,
                }
            ],
            "track": tracks,
        },
    }


def _partition_counts(engine, table: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1 ORDER BY 1")
            ).all()
        )


def test_search_windows_are_cut_at_day_bounds_without_gaps_or_overlaps():
    from scenewatch.search.day_paging import window_days
    from scenewatch.search.scope import LOOKBACK_S, Scope
    from scenewatch.store.partitions import PERIOD_S

    day = 19_873 * PERIOD_S  # a midnight
    assert window_days(Scope(None, day, None)) is None and window_days(Scope(day, None, None)) is None
    for start, end in ((day, day + PERIOD_S), (day + 7200, day + 9000), (day - 3 * PERIOD_S + 5, day)):
        parts = window_days(Scope(float(start), float(end), None))
        assert parts[0][0] == start - LOOKBACK_S and parts[-1][1:] == (end, True)
        for (_, hi, inclusive), (lo, _, _) in zip(parts, parts[1:], strict=False):
            assert hi == lo and not inclusive and hi % PERIOD_S == 0  # [lo, hi) then [hi, ...
        assert all(int(lo // PERIOD_S) == int((hi - 1e-6) // PERIOD_S) or lo == hi for lo, hi, _ in parts)


def test_ingest_files_tracks_into_day_partitions_made_on_demand(cluster, tmp_path):
    from scenewatch.central import edges as registry
    from scenewatch.central.ingest import ingest
    from scenewatch.search.engine import search
    from scenewatch.store import partitions

    store = DataStore.open(tmp_path, database_url=cluster.create_database("parts", "pa", "pa-pw"))
    registry.add_edge(store, "e1", "north")  # its token comes from the key file in tmp_path
    with store.engine.connect() as conn:
        edge = dict(conn.execute(text("SELECT * FROM edges WHERE name = 'e1'")).mappings().one())
        assert partitions.is_partitioned(conn)
    d0 = search_scale.NOW.timestamp() - 3 * DAY  # 29 May 2024, 00:00 UTC
    # day 0: two tracks, one lasting into day 2 (a parked car); day 1: three; day 2: one
    firsts = [d0 + 100, d0 + 200, d0 + DAY + 5, d0 + DAY + 500, d0 + DAY + 900, d0 + 2 * DAY + 50]
    lasts = [t + 30 for t in firsts]
    lasts[1] = d0 + 2 * DAY + 600
    shipment = _shipment(firsts, lasts)
    assert ingest(store.engine, edge, shipment)["track"] == 6
    tracks_by_part = _partition_counts(store.engine, "tracks")
    assert tracks_by_part == {"tracks_20240529": 2, "tracks_20240530": 3, "tracks_20240531": 1}
    terms_by_part = _partition_counts(store.engine, "track_terms")
    assert set(terms_by_part) == {"track_terms_20240529", "track_terms_20240530", "track_terms_20240531"}

    # a replay files nothing twice and keeps the central ids
    before = repo.list_tracks(store.engine, limit=100)
    ingest(store.engine, edge, shipment)
    assert repo.list_tracks(store.engine, limit=100) == before
    assert _partition_counts(store.engine, "track_terms") == terms_by_part

    # the search reads the partitions (pruned by its time filter) and finds them
    found = search(store, "person in the last 3 days", now=search_scale.NOW, limit=50)
    assert len(found.results) == 6

    # a local writer's row on a day with no partition lands in the default partition; when the
    # ingest makes that day's partition, the row moves over
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tracks (camera_id, run_id, tracker_id, class_name, first_ts, last_ts, "
                "first_frame, last_frame, detections, score, path, finished) "
                "VALUES (1, 1, 9, 'dog', :t, :t, 0, 1, 1, 0.9, '[]', true)"
            ),
            {"t": d0 + 3 * DAY + 10},
        )
    assert _partition_counts(store.engine, "tracks")["tracks_default"] == 1
    partitions.ensure(store.engine, [d0 + 3 * DAY + 20])
    moved = _partition_counts(store.engine, "tracks")
    assert "tracks_default" not in moved and moved["tracks_20240601"] == 1

    # deleting a track deletes its search terms (a trigger: no foreign key to a partitioned table)
    victim = next(t["id"] for t in before if t["first_ts"] == firsts[0])
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM tracks WHERE id = :i"), {"i": victim})
        left = conn.execute(text("SELECT count(*) FROM track_terms WHERE track_id = :i"), {"i": victim})
        assert left.scalar() == 0

    # retention drops whole days: day 1 ended before the cut-off; day 0 keeps a track lasting
    # past it, so it stays for the row-by-row retention
    media: list[str] = []
    assert partitions.drop_before(store.engine, d0 + 2 * DAY + 100, on_media=media.extend) == 3
    after = _partition_counts(store.engine, "tracks")
    assert "tracks_20240530" not in after and "track_terms_20240530" not in _partition_counts(
        store.engine, "track_terms"
    )
    assert after["tracks_20240529"] == 1 and len(media) == 3
    # a late shipment for a dropped day makes its partition again
    ingest(store.engine, edge, _shipment([d0 + DAY + 7], first_id=7))
    assert "tracks_20240530" in _partition_counts(store.engine, "tracks")
