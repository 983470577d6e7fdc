"""The central's writes of an edge's rows: upserts keyed by (edge, row id on the edge), on SQLite
and PostgreSQL.

On PostgreSQL the bulk of a shipment goes through COPY (a staging table for the tracks, the
search terms straight in), several times faster than row-by-row parameters. Column names come
from ``store/schema.py`` only, composed as identifiers with ``psycopg.sql``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Connection, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from scenewatch.store.schema import track_terms, tracks

if TYPE_CHECKING:
    from psycopg import sql

KEY = ["edge_id", "edge_row"]
CHUNK = 1000  # ids per IN (...) list


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str] = KEY) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    changed = [c.name for c in table.columns if c.name in rows[0] and c.name not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in changed})
    conn.execute(stmt, rows)


def upsert_returning(
    conn: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[dict[int, int], list[int]]:
    """Upsert by (edge_id, edge_row), returning (edge row -> central id, central ids of rows that
    existed before: replays)."""
    if conn.dialect.name != "postgresql":
        upsert(conn, table, rows)
        ids = id_map(conn, table, rows[0]["edge_id"], [r["edge_row"] for r in rows])
        return ids, list(ids.values())  # no cheap way to tell replays: treat all as such
    from psycopg import sql

    # PostgreSQL: COPY into a session-local staging table, then one INSERT ... SELECT ... ON
    # CONFLICT; several times faster than row-by-row parameters for shipments of 1000 tracks.
    # The columns are the table's own (every row is built with all of them), never a row's keys.
    cols = [c.name for c in table.columns if c.name != "id"]
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    name, stage = sql.Identifier(table.name), sql.Identifier(f"sw_stage_{table.name}")
    cursor = _pg_cursor(conn)
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(stage, name)
    )
    with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, _names(cols))) as copy:
        for row in rows:
            copy.write_row(
                tuple(json.dumps(row[c]) if c in json_cols and row[c] is not None else row[c] for c in cols)
            )
    # the key of a partitioned table holds its partition column (migration 0008); a track's
    # first_ts never changes on its edge, so a replay meets the same key
    key = [*KEY, "first_ts"] if table is tracks else KEY
    cursor.execute(
        sql.SQL(
            "INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING RETURNING edge_row, id"
        ).format(name, _names(cols), _names(cols), stage, _names(key))
    )
    ids = dict(cursor.fetchall())
    replayed: list[int] = []
    if len(ids) < len(rows):
        # rows filed before (a replay): update them to the shipped state. Shipments of one edge
        # are serialised (its edges row is locked), so nothing else writes these keys meanwhile.
        updates = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("s", c)) for c in cols if c not in key
        )
        same = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier("t", c), sql.Identifier("s", c)) for c in key
        )
        cursor.execute(
            sql.SQL(
                "UPDATE {} t SET {} FROM {} s WHERE {} AND s.edge_row <> ALL(%s) RETURNING t.edge_row, t.id"
            ).format(name, updates, stage, same),
            (list(ids),),
        )
        for edge_row, central_id in cursor.fetchall():
            ids[edge_row] = central_id
            replayed.append(central_id)
    cursor.execute(sql.SQL("TRUNCATE {}").format(stage))
    return ids, replayed


def id_map(conn: Connection, table: Table, edge_id: int, local_ids: list[int]) -> dict[int, int]:
    """The edge's row ids -> central ids, of this edge's rows only."""
    out: dict[int, int] = {}
    for chunk in chunks(local_ids):
        query = select(table.c.edge_row, table.c.id).where(
            table.c.edge_id == edge_id, table.c.edge_row.in_(chunk)
        )
        out.update(dict(conn.execute(query).all()))
    return out


def insert_terms(conn: Connection, terms: list[dict[str, Any]]) -> None:
    if not terms:
        return
    if conn.dialect.name == "postgresql":
        from psycopg import sql

        # COPY: the bulk of a shipment's rows, several times faster than INSERT
        cols = ("track_id", "term", "weight", "camera_id", "first_ts", "last_ts")
        cursor = _pg_cursor(conn)
        query = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(track_terms.name), _names(cols))
        with cursor.copy(query) as copy:
            for row in terms:
                copy.write_row(tuple(row[c] for c in cols))
        return
    conn.execute(insert(track_terms), terms)


def _names(columns: Iterable[str], prefix: str | None = None) -> sql.Composable:
    """A comma-separated list of quoted column names, each optionally as ``prefix.column``."""
    from psycopg import sql  # PostgreSQL only: SQLite-only installs go without psycopg

    return sql.SQL(", ").join(sql.Identifier(*((prefix, c) if prefix else (c,))) for c in columns)


def _pg_cursor(conn: Connection) -> Any:
    """A cursor of the psycopg connection under ``conn`` (COPY needs the driver's own)."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection was closed")
    return driver.cursor()
