"""The central's side of a shipment: idempotent upserts keyed by (edge, row id on the edge).

One shipment is one transaction, so a crash or a lost answer leaves either all of it or none;
the edge then sends it again and the upserts turn the replay into a no-op. Shipments of one edge
are serialised by a row lock on its ``edges`` row (PostgreSQL); different edges ingest in
parallel. Camera names are qualified by site ('north/gate'), so edges may reuse local names.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from sqlalchemy import JSON, Connection, Engine, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scenewatch.central import partitions
from scenewatch.errors import SceneWatchError
from scenewatch.store.db import head_revision
from scenewatch.store.schema import (
    camera_status,
    cameras,
    edges,
    events,
    health_events,
    runs,
    track_terms,
    tracks,
)

KEY = ["edge_id", "edge_row"]


class IngestError(SceneWatchError):
    """A shipment the central refuses; ``status`` is the HTTP status the API answers with."""

    status = 400


class Conflict(IngestError):
    status = 409


def central_name(site: str, camera: str) -> str:
    """The installation-wide camera name: unique as long as a site's cameras have unique names."""
    return f"{site}/{camera}"


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every schema revision this SceneWatch knows (its migrations)."""
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("scenewatch.store") / "migrations"))
    return frozenset(rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions())


def check_revision(edge_revision: str | None) -> None:
    """Refuse an edge whose database schema this central does not know (a newer SceneWatch)."""
    if edge_revision is None or edge_revision not in known_revisions():
        raise Conflict(
            f"edge schema {edge_revision} is newer than the central's ({head_revision()})",
            "upgrade SceneWatch on the central first, then the edges",
        )


def ingest(engine: Engine, edge: dict[str, Any], shipment: dict[str, Any]) -> dict[str, int]:
    """File one shipment from ``edge`` (its ``edges`` row); returns rows filed per kind."""
    check_revision(shipment.get("schema"))
    rows = shipment.get("rows") or {}
    # the days' partitions first, in their own transaction (PostgreSQL; a no-op on SQLite)
    partitions.ensure(engine, [r["first_ts"] for r in rows.get("track", [])])
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(edges.c.id).where(edges.c.id == edge["id"]).with_for_update())
        _check_instance(conn, edge, shipment.get("instance"))
        cams = _cameras(conn, edge, rows.get("camera", []))
        run_ids = _runs(conn, edge["id"], rows.get("run", []), cams)
        n_tracks = _tracks(conn, edge["id"], rows.get("track", []), cams, run_ids)
        n_events = _simple(conn, events, edge["id"], rows.get("event", []), cams, run_ids)
        n_health = _simple(conn, health_events, edge["id"], rows.get("health", []), cams, run_ids)
        n_status = _status(conn, rows.get("status", []), cams)
        conn.execute(
            update(edges)
            .where(edges.c.id == edge["id"])
            .values(
                last_contact=time.time(),
                backlog=shipment.get("backlog"),
                version=str(shipment.get("version"))[:32],
                schema_revision=shipment.get("schema"),
                media_url=shipment.get("media_url"),
                instance=shipment.get("instance"),
            )
        )
    return {"track": n_tracks, "event": n_events, "health": n_health, "status": n_status}


def _check_instance(conn: Connection, edge: dict[str, Any], instance: str | None) -> None:
    known = conn.scalar(select(edges.c.instance).where(edges.c.id == edge["id"]))
    if known is not None and instance != known:
        raise Conflict(
            f"edge {edge['name']!r} sends from a different database than before (wiped or replaced)",
            "register it as a new edge (`scenewatch edges add`) so its rows do not overwrite the old ones",
        )


def _upsert(conn: Connection, table, rows: list[dict[str, Any]], keys: list[str] = KEY) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in rows[0] if c not in keys}
    )
    conn.execute(stmt, rows)


def _upsert_returning(
    conn: Connection, table, rows: list[dict[str, Any]]
) -> tuple[dict[int, int], list[int]]:
    """Upsert by (edge_id, edge_row), returning (edge row -> central id, central ids of rows that
    existed before: replays)."""
    if conn.dialect.name != "postgresql":
        _upsert(conn, table, rows)
        ids = _id_map(conn, table, rows[0]["edge_id"], [r["edge_row"] for r in rows])
        return ids, list(ids.values())  # no cheap way to tell replays: treat all as such
    # PostgreSQL: COPY into a session-local staging table, then one INSERT ... SELECT ... ON
    # CONFLICT; several times faster than row-by-row parameters for shipments of 1000 tracks
    cols = list(rows[0])
    stage = f"sw_stage_{table.name}"
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    with cursor.copy(f"COPY {stage} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(json.dumps(row[c]) if c in json_cols else row[c] for c in cols))
    # the key of a partitioned table holds its partition column (migration 0008); a track's
    # first_ts never changes on its edge, so a replay meets the same key
    key = [*KEY, "first_ts"] if table is tracks else KEY
    listed = ", ".join(cols)
    cursor.execute(
        f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {stage} "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING edge_row, id"
    )
    ids: dict[int, int] = dict(cursor.fetchall())
    replayed: list[int] = []
    if len(ids) < len(rows):
        # rows filed before (a replay): update them to the shipped state. Shipments of one edge
        # are serialised (its edges row is locked), so nothing else writes these keys meanwhile.
        updates = ", ".join(f"{c} = s.{c}" for c in cols if c not in key)
        same = " AND ".join(f"t.{c} = s.{c}" for c in key)
        cursor.execute(
            f"UPDATE {table.name} t SET {updates} FROM {stage} s "
            f"WHERE {same} AND s.edge_row <> ALL(%s) RETURNING t.edge_row, t.id",
            (list(ids),),
        )
        for edge_row, central_id in cursor.fetchall():
            ids[edge_row] = central_id
            replayed.append(central_id)
    cursor.execute(f"TRUNCATE {stage}")
    return ids, replayed


def _id_map(conn: Connection, table, edge_id: int, local_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for i in range(0, len(local_ids), 1000):
        query = select(table.c.edge_row, table.c.id).where(
            table.c.edge_id == edge_id, table.c.edge_row.in_(local_ids[i : i + 1000])
        )
        out.update(dict(conn.execute(query).all()))
    return out


def _cameras(conn: Connection, edge: dict[str, Any], rows: list[dict[str, Any]]) -> dict[int, int]:
    """Upsert the edge's cameras under site-qualified names; local id -> central id."""
    edge_id = edge["id"]
    wanted = {central_name(edge["site"], r["name"]): r for r in rows}
    if wanted:
        taken = conn.execute(
            select(cameras.c.name, cameras.c.edge_id, cameras.c.edge_row, edges.c.name.label("edge"))
            .outerjoin(edges, edges.c.id == cameras.c.edge_id)
            .where(cameras.c.name.in_(list(wanted)))
        ).all()
        for name, owner, owner_row, owner_name in taken:
            if owner != edge_id or owner_row != wanted[name]["id"]:
                who = f"edge {owner_name!r}" if owner_name else "the central itself"
                raise Conflict(
                    f"camera name {name!r} already belongs to {who}; edge {edge['name']!r} cannot use it",
                    "camera names must be unique within a site: rename the camera on one edge, "
                    "or put the edges in different sites",
                )
    _upsert(
        conn,
        cameras,
        [
            {
                "name": name,
                "source": r["source"],
                "width": r.get("width"),
                "height": r.get("height"),
                "fps": r.get("fps"),
                "created_at": r["created_at"],
                "edge_id": edge_id,
                "edge_row": r["id"],
            }
            for name, r in wanted.items()
        ],
    )
    return _id_map(conn, cameras, edge_id, [r["id"] for r in rows])


def _mapped(row: dict[str, Any], cams: dict[int, int], run_ids: dict[int, int]) -> dict[str, Any]:
    """The row with the edge's ids swapped for the central's."""
    out = {k: v for k, v in row.items() if k not in ("id", "terms")}
    try:
        out["camera_id"] = cams[row["camera_id"]]
        if row.get("run_id") is not None:
            out["run_id"] = run_ids[row["run_id"]]
    except KeyError as exc:
        raise IngestError(f"shipment refers to unknown camera or run {exc.args[0]}") from None
    return out


def _runs(conn: Connection, edge_id: int, rows: list[dict[str, Any]], cams: dict[int, int]) -> dict[int, int]:
    _upsert(conn, runs, [{**_mapped(r, cams, {}), "edge_id": edge_id, "edge_row": r["id"]} for r in rows])
    return _id_map(conn, runs, edge_id, [r["id"] for r in rows])


def _tracks(
    conn: Connection, edge_id: int, rows: list[dict[str, Any]], cams: dict[int, int], run_ids: dict[int, int]
) -> int:
    if not rows:
        return 0
    values = [{**_mapped(r, cams, run_ids), "edge_id": edge_id, "edge_row": r["id"]} for r in rows]
    ids, replayed = _upsert_returning(conn, tracks, values)
    # a replay re-files the terms: delete and insert, so removed terms do not linger
    for i in range(0, len(replayed), 1000):
        conn.execute(delete(track_terms).where(track_terms.c.track_id.in_(replayed[i : i + 1000])))
    terms = [
        {
            "track_id": ids[r["id"]],
            "term": term,
            "weight": weight,
            "camera_id": cams[r["camera_id"]],
            "first_ts": r["first_ts"],
            "last_ts": r["last_ts"],
        }
        for r in rows
        for term, weight in r.get("terms", [])
    ]
    _insert_terms(conn, terms)
    return len(rows)


def _insert_terms(conn: Connection, terms: list[dict[str, Any]]) -> None:
    if not terms:
        return
    if conn.dialect.name == "postgresql":
        # COPY: the bulk of a shipment's rows, several times faster than INSERT
        cols = ("track_id", "term", "weight", "camera_id", "first_ts", "last_ts")
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY track_terms ({', '.join(cols)}) FROM STDIN") as copy:
            for row in terms:
                copy.write_row(tuple(row[c] for c in cols))
        return
    conn.execute(insert(track_terms), terms)


def _simple(
    conn: Connection,
    table,
    edge_id: int,
    rows: list[dict[str, Any]],
    cams: dict[int, int],
    run_ids: dict[int, int],
) -> int:
    _upsert(
        conn, table, [{**_mapped(r, cams, run_ids), "edge_id": edge_id, "edge_row": r["id"]} for r in rows]
    )
    return len(rows)


def _status(conn: Connection, rows: list[dict[str, Any]], cams: dict[int, int]) -> int:
    _upsert(conn, camera_status, [_mapped(r, cams, {}) for r in rows], keys=["camera_id"])
    return len(rows)
