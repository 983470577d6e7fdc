"""The schema: migrations and table definitions agree; the database refuses a newer schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.db import DatabaseError, head_revision, open_engine
from scenewatch.store.schema import metadata


def test_migrations_build_exactly_the_declared_schema(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
        assert conn.execute(text("pragma foreign_keys")).scalar() == 1


def test_newer_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    open_engine(url)
    with create_engine(url).begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    with pytest.raises(DatabaseError, match="newer than this SceneWatch"):
        open_engine(url)
    assert head_revision()


def test_unknown_names_get_clear_errors(tmp_path):
    store = DataStore.open(tmp_path / "data")
    repo.ensure_camera(store.engine, "gate", "gate.mp4")
    with pytest.raises(repo.NotFound, match="known cameras: gate"):
        repo.camera_id(store.engine, "door")
    with pytest.raises(repo.NotFound, match="no track with id 5"):
        repo.get_track(store.engine, 5)


def test_missing_data_folder_is_not_created_for_reads(tmp_path):
    with pytest.raises(Exception, match="no SceneWatch database"):
        DataStore.open(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()


def test_delete_run_leaves_nothing(tmp_path):
    store = DataStore.open(tmp_path / "data")
    camera = repo.ensure_camera(store.engine, "gate", "gate.mp4")
    run = repo.start_run(store.engine, camera, "gate.mp4", "index")
    repo.record_gap(store.engine, camera, run, 1.0, 2.0, "test")
    repo.delete_run(store.engine, run)
    with store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from runs")).scalar() == 0
        assert conn.execute(text("select count(*) from gaps")).scalar() == 0
