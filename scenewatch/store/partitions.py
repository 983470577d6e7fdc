"""Time partitions of the big tables on PostgreSQL (migration 0008): ``tracks`` and ``track_terms``.

Both are range-partitioned on ``first_ts`` by UTC day (``tracks_20240531`` holds the tracks first
seen on 31 May 2024, ``track_terms_20240531`` their search terms), so

- an ingest writes into the indexes of the few days it carries, which stay in memory however
  large the database grows;
- a search with a time filter reads only the days it asks for (partition pruning);
- retention drops whole days (``DROP TABLE``) instead of deleting rows one by one.

Partitions are made on demand: the central's ingest calls :func:`ensure` for the days of a
shipment before its transaction, so shipments never wait on DDL of each other inside their
transactions (the retention loop makes today's and tomorrow's for a local writer).
Rows no one made a partition for (a local writer on a PostgreSQL store, a clock far off) land in
the ``*_default`` partitions; :func:`ensure` moves them out when their day's partition is made.
SQLite stores are never partitioned; every function here is a no-op on them.

>>> name("tracks", day_of(1717113600.0))
'tracks_20240531'
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

PERIOD_S = 86400  # one partition per UTC day
TABLES = ("tracks", "track_terms")  # partitioned together: a day's terms go with its tracks
LOCK_KEY = 0x53570008  # advisory lock serialising partition DDL across central processes

_known: dict[str, set[int]] = {}  # database URL -> day numbers known to have partitions
_guard = threading.Lock()


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(
        conn.exec_driver_sql(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = 'tracks' AND c.relnamespace = current_schema()::regnamespace"
        ).scalar()
    )


def day_of(ts: float) -> int:
    return int(ts // PERIOD_S)


def name(table: str, day: int) -> str:
    return f"{table}_{datetime.fromtimestamp(day * PERIOD_S, UTC):%Y%m%d}"


def existing(conn: Connection) -> set[int]:
    """Day numbers that have a partition of ``tracks``."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'tracks'"
    ).scalars()
    days = set()
    for relname in rows:
        suffix = relname.rsplit("_", 1)[-1]
        if suffix.isdigit() and len(suffix) == 8:
            stamp = datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC).timestamp()
            days.add(day_of(stamp))
    return days


def ensure(engine: Engine, times: Iterable[float]) -> int:
    """Make sure the days of ``times`` have partitions; returns how many days were created.

    Runs in its own short transaction (serialised by an advisory lock), never inside a
    shipment's, and remembers what exists, so a shipment into known days costs no statement.
    """
    if engine.dialect.name != "postgresql":
        return 0
    key = engine.url.render_as_string(hide_password=True)
    wanted = {day_of(t) for t in times}
    with _guard:
        missing = wanted - _known.get(key, set())
    if not missing:
        return 0
    created = 0
    with engine.begin() as conn:
        if not is_partitioned(conn):
            return 0
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
        have = existing(conn)
        if missing - have:
            lock_for_ddl(conn)
        for day in sorted(missing - have):
            create(conn, day)
            created += 1
        have |= missing
    with _guard:
        _known.setdefault(key, set()).update(have)
    return created


def lock_for_ddl(conn: Connection) -> None:
    """Take the locks partition DDL needs in the order a shipment takes them (cameras and runs,
    then tracks, then track_terms), so DDL and shipments queue behind each other instead of
    deadlocking: a partition of tracks adds foreign-key triggers to cameras and runs."""
    conn.exec_driver_sql("LOCK TABLE cameras, runs IN SHARE ROW EXCLUSIVE MODE")
    conn.exec_driver_sql(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE")


def create(conn: Connection, day: int) -> None:
    """The partitions of one day for every partitioned table, taking over rows of the default."""
    lo, hi = float(day * PERIOD_S), float((day + 1) * PERIOD_S)
    for table in TABLES:
        part = name(table, day)
        in_range = f"first_ts >= {lo!r} AND first_ts < {hi!r}"
        stray = conn.exec_driver_sql(f"SELECT 1 FROM {table}_default WHERE {in_range} LIMIT 1").scalar()
        if not stray:
            conn.exec_driver_sql(
                f"CREATE TABLE {part} PARTITION OF {table} FOR VALUES FROM ({lo!r}) TO ({hi!r})"
            )
            continue
        # rows of this day already sit in the default partition: move them into the new one
        conn.exec_driver_sql(f"CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        conn.exec_driver_sql(
            f"WITH moved AS (DELETE FROM {table}_default WHERE {in_range} RETURNING *) "
            f"INSERT INTO {part} SELECT * FROM moved"
        )
        conn.exec_driver_sql(
            f"ALTER TABLE {table} ATTACH PARTITION {part} FOR VALUES FROM ({lo!r}) TO ({hi!r})"
        )


def forget(engine: Engine) -> None:
    """Drop the cache of known partitions (after a retention dropped some, or in tests)."""
    with _guard:
        _known.pop(engine.url.render_as_string(hide_password=True), None)


def drop_before(engine: Engine, before: float, on_media: Callable[[list[str]], None] | None = None) -> int:
    """Retention by partition: drop every day all of whose tracks ended before ``before``.

    A day qualifies when it ended before ``before`` and none of its tracks lasted past it (a
    track can outlast its day); what does not qualify is left to the row-by-row retention.
    ``on_media`` gets the day's thumbnail paths before the rows go (files before rows, as in
    ``api/retention.py``). Returns the tracks dropped.
    """
    if engine.dialect.name != "postgresql":
        return 0
    dropped = 0
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return 0
        days = sorted(d for d in existing(conn) if (d + 1) * PERIOD_S <= before)
    for day in days:
        with engine.begin() as conn:
            # locks first: no shipment can add a row to the day between the check and the drop
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
            lock_for_ddl(conn)
            part = name("tracks", day)
            if conn.exec_driver_sql(f"SELECT 1 FROM {part} WHERE last_ts >= {before!r} LIMIT 1").scalar():
                continue
            n = conn.exec_driver_sql(f"SELECT count(*) FROM {part}").scalar_one()
            if on_media is not None:
                paths = conn.exec_driver_sql(f"SELECT thumbnail FROM {part} WHERE thumbnail IS NOT NULL")
                on_media(list(paths.scalars()))
            # boxes have no foreign key to a partitioned tracks: delete theirs (none on a central)
            conn.exec_driver_sql(f"DELETE FROM boxes WHERE track_id IN (SELECT id FROM {part})")
            # nor packed sightings (DROP TABLE runs no delete trigger)
            conn.exec_driver_sql(f"DELETE FROM track_sightings WHERE track_id IN (SELECT id FROM {part})")
            for table in reversed(TABLES):
                conn.exec_driver_sql(f"DROP TABLE {name(table, day)}")
            dropped += n
    forget(engine)
    return dropped
