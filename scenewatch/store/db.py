"""Opening the database: engine settings per back end, and schema migrations on open."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import SingletonThreadPool

from scenewatch.errors import SceneWatchError


class DatabaseError(SceneWatchError):
    """The database cannot be opened, or its schema is newer than this program."""


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'scenewatch.db'}"


def normalize_url(url: str | None) -> str | None:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_engine(url: str, migrate: bool = True) -> Engine:
    """Create an engine for ``url``; bring its schema up to date unless ``migrate`` is False."""
    url = normalize_url(url) or url
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        if (getattr(exc, "name", None) or "").split(".")[0] == "psycopg":
            raise DatabaseError(
                f"PostgreSQL support is not installed (database URL {url.split('@')[-1]!r})",
                "install it with `pip install 'scenewatch[postgres]'`, or use SQLite (no database URL)",
            ) from None
        raise DatabaseError(
            f"cannot use database URL {url.split('@')[-1]!r}: {exc}",
            "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB",
        ) from None
    try:
        if migrate:
            upgrade(engine)
        else:
            check_schema(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc.orig).splitlines()[0]}",
            "check the database URL, that the server runs, and the credentials",
        ) from None
    return engine


def no_wait_engine(engine: Engine) -> Engine | None:
    """A second engine on ``engine``'s SQLite file with a connection per thread that never waits for the
    write lock (a locked database fails at once), for short writes made on an event loop, which must
    not block; None for other back ends and in-memory databases."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    quick = create_engine(
        engine.url, poolclass=SingletonThreadPool, connect_args={"timeout": 0, "check_same_thread": False}
    )
    event.listen(quick, "connect", _no_wait_pragmas)
    return quick


def _no_wait_pragmas(dbapi_connection, record) -> None:
    _sqlite_pragmas(dbapi_connection, record, busy_ms=0)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # copying the log back is left to the others
    cursor.close()


def _sqlite_pragmas(dbapi_connection, _record, busy_ms: int = 30000) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer, and a killed writer leaves a consistent database.
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is crash-safe for the database; only the last commits may be lost on power cut.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("scenewatch.store") / "migrations"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse a database whose schema this program does not know (written by a newer version)."""
    current = current_revision(engine)
    script = ScriptDirectory.from_config(_alembic_config())
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseError(
            f"database schema {current} is newer than this SceneWatch knows (head {head_revision()})",
            "upgrade SceneWatch on this machine",
        )


def upgrade(engine: Engine) -> None:
    check_schema(engine)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
