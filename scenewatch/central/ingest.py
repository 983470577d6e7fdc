"""The central's side of a shipment: idempotent upserts keyed by (edge, row id on the edge).

One shipment is one transaction, so a crash or a lost answer leaves either all of it or none;
the edge then sends it again and the upserts turn the replay into a no-op. Shipments of one edge
are serialised by a row lock on its ``edges`` row (PostgreSQL); different edges ingest in
parallel. Camera names are qualified by site ('north/gate'), so edges may reuse local names.

An edge is not trusted beyond its own rows: the shipment is checked against ``shipment.py``
before any SQL runs, column names come from ``store/schema.py`` only (identifiers composed with
``psycopg.sql`` where SQL is written by hand), every row is filed under the sender's ``edge_id``,
and a camera or run id in a row resolves only to the sender's cameras and runs of the same
shipment.

An event's ``track_ids`` are tracker ids within its run on the edge; the central stores the
central ids of those tracks instead. Tracks ship when they finish, events when they start, so
ids whose track has not arrived yet wait in the event's ``detail["unmapped_track_ids"]`` and are
mapped when the track arrives or the event is shipped again (its end, a state change).
"""

from __future__ import annotations

import functools
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Connection, Engine, Table, Text, cast, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scenewatch.central import edges as registry
from scenewatch.central.shipment import INT32, UNMAPPED, EventRow, IngestError, Shipment, load, parse
from scenewatch.store import partitions
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

if TYPE_CHECKING:
    from psycopg import sql

KEY = ["edge_id", "edge_row"]
CHUNK = 1000  # ids per IN (...) list

__all__ = ["Conflict", "IngestError", "central_name", "check_revision", "ingest", "receive"]


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


def receive(engine: Engine, token: str, body: bytes) -> dict[str, int]:
    """The API's ingest: authenticate the sending edge, check its shipment, file it.

    Raises ``registry.EdgeAuthError`` for a bad token, IngestError for a refused shipment.
    """
    raw = load(body)
    edge = registry.authenticate(engine, raw["edge"], token)
    shipment = parse(raw)
    if shipment.site != edge["site"]:
        raise Conflict(f"edge {edge['name']!r} is registered in site {edge['site']!r}, not {shipment.site!r}")
    return ingest(engine, edge, shipment)


def ingest(engine: Engine, edge: dict[str, Any], shipment: Shipment | dict[str, Any]) -> dict[str, int]:
    """File one shipment from ``edge`` (its ``edges`` row); returns rows filed per kind."""
    if not isinstance(shipment, Shipment):
        shipment = parse(shipment)
    check_revision(shipment.revision)
    rows = shipment.rows
    # the days' partitions first, in their own transaction (PostgreSQL; a no-op on SQLite)
    partitions.ensure(engine, [r.first_ts for r in rows.track])
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(edges.c.id).where(edges.c.id == edge["id"]).with_for_update())
        _check_instance(conn, edge, shipment.instance)
        cams = _cameras(conn, edge, rows.camera)
        run_ids = _runs(conn, edge["id"], rows.run, cams)
        filed = _tracks(conn, edge["id"], rows.track, cams, run_ids)
        n_events = _events(conn, edge["id"], rows.event, cams, run_ids)
        _remap_waiting_events(conn, edge["id"], filed)
        n_health = _simple(conn, health_events, edge["id"], "health", rows.health, cams, {})
        n_status = _status(conn, rows.status, cams)
        conn.execute(
            update(edges)
            .where(edges.c.id == edge["id"])
            .values(
                last_contact=time.time(),
                backlog=shipment.backlog,
                version=shipment.version,
                schema_revision=shipment.revision,
                instance=shipment.instance,
            )
        )
    return {"track": len(rows.track), "event": n_events, "health": n_health, "status": n_status}


def _check_instance(conn: Connection, edge: dict[str, Any], instance: str | None) -> None:
    known = conn.scalar(select(edges.c.instance).where(edges.c.id == edge["id"]))
    if known is not None and instance != known:
        raise Conflict(
            f"edge {edge['name']!r} sends from a different database than before (wiped or replaced)",
            "register it as a new edge (`scenewatch edges add`) so its rows do not overwrite the old ones",
        )


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str] = KEY) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    changed = [c.name for c in table.columns if c.name in rows[0] and c.name not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in changed})
    conn.execute(stmt, rows)


def _names(columns: Iterable[str], prefix: str | None = None) -> sql.Composable:
    """A comma-separated list of quoted column names, each optionally as ``prefix.column``."""
    from psycopg import sql  # PostgreSQL only: SQLite-only installs go without psycopg

    return sql.SQL(", ").join(sql.Identifier(*((prefix, c) if prefix else (c,))) for c in columns)


def _upsert_returning(
    conn: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[dict[int, int], list[int]]:
    """Upsert by (edge_id, edge_row), returning (edge row -> central id, central ids of rows that
    existed before: replays)."""
    if conn.dialect.name != "postgresql":
        _upsert(conn, table, rows)
        ids = _id_map(conn, table, rows[0]["edge_id"], [r["edge_row"] for r in rows])
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


def _id_map(conn: Connection, table: Table, edge_id: int, local_ids: list[int]) -> dict[int, int]:
    """The edge's row ids -> central ids, of this edge's rows only."""
    out: dict[int, int] = {}
    for chunk in _chunks(local_ids):
        query = select(table.c.edge_row, table.c.id).where(
            table.c.edge_id == edge_id, table.c.edge_row.in_(chunk)
        )
        out.update(dict(conn.execute(query).all()))
    return out


def _pg_cursor(conn: Connection) -> Any:
    """A cursor of the psycopg connection under ``conn`` (COPY needs the driver's own)."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the database connection was closed")
    return driver.cursor()


def _cameras(conn: Connection, edge: dict[str, Any], rows: list) -> dict[int, int]:
    """Upsert the edge's cameras under site-qualified names; local id -> central id."""
    edge_id = edge["id"]
    wanted = {central_name(edge["site"], r.name): r for r in rows}
    limit = getattr(cameras.c.name.type, "length", None) or 0  # the column is a String(n)
    for i, name in enumerate(wanted):
        if len(name) > limit:
            raise IngestError(
                f"shipment refused: rows.camera[{i}].name: {name!r} is longer than {limit} characters",
                "shorten the camera name or the site name",
            )
    if wanted:
        taken = conn.execute(
            select(cameras.c.name, cameras.c.edge_id, cameras.c.edge_row, edges.c.name.label("edge"))
            .outerjoin(edges, edges.c.id == cameras.c.edge_id)
            .where(cameras.c.name.in_(list(wanted)))
        ).all()
        for name, owner, owner_row, owner_name in taken:
            if owner != edge_id or owner_row != wanted[name].id:
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
            {**r.model_dump(exclude={"id"}), "name": name, "edge_id": edge_id, "edge_row": r.id}
            for name, r in wanted.items()
        ],
    )
    return _id_map(conn, cameras, edge_id, [r.id for r in rows])


def _mapped(kind: str, i: int, row, cams: dict[int, int], run_ids: dict[int, int]) -> dict[str, Any]:
    """The row's columns with the edge's camera and run ids swapped for the central's; an id
    that is not one of this edge's rows in this shipment is refused."""
    out = row.model_dump(exclude={"id", "terms"})
    for field, known in (("camera_id", cams), ("run_id", run_ids)):
        local = out.get(field)
        if local is None:
            continue
        if local not in known:
            what = field.removesuffix("_id")
            raise IngestError(
                f"shipment refused: rows.{kind}[{i}].{field}: {local} is not a {what} of this shipment",
                f"an edge ships every {what} its rows refer to, and only its own",
            )
        out[field] = known[local]
    return out


def _filed(kind: str, rows: list, edge_id: int, cams: dict[int, int], run_ids: dict[int, int]) -> list[dict]:
    """The rows as central rows of ``edge_id``: mapped ids, ``edge_row`` the edge's id."""
    return [
        {**_mapped(kind, i, r, cams, run_ids), "edge_id": edge_id, "edge_row": r.id}
        for i, r in enumerate(rows)
    ]


def _runs(conn: Connection, edge_id: int, rows: list, cams: dict[int, int]) -> dict[int, int]:
    _upsert(conn, runs, _filed("run", rows, edge_id, cams, {}))
    return _id_map(conn, runs, edge_id, [r.id for r in rows])


def _tracks(
    conn: Connection, edge_id: int, rows: list, cams: dict[int, int], run_ids: dict[int, int]
) -> dict[int, float]:
    """File the tracks and their search terms; returns central run id -> earliest first_ts filed."""
    if not rows:
        return {}
    ids, replayed = _upsert_returning(conn, tracks, _filed("track", rows, edge_id, cams, run_ids))
    # a replay re-files the terms: delete and insert, so removed terms do not linger
    for chunk in _chunks(replayed):
        conn.execute(delete(track_terms).where(track_terms.c.track_id.in_(chunk)))
    terms = [
        {
            "track_id": ids[r.id],
            "term": term,
            "weight": weight,
            "camera_id": cams[r.camera_id],
            "first_ts": r.first_ts,
            "last_ts": r.last_ts,
        }
        for r in rows
        for term, weight in r.terms
    ]
    _insert_terms(conn, terms)
    earliest: dict[int, float] = {}
    for r in rows:
        run = run_ids[r.run_id]
        earliest[run] = min(earliest.get(run, r.first_ts), r.first_ts)
    return earliest


def _insert_terms(conn: Connection, terms: list[dict[str, Any]]) -> None:
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


def _simple(
    conn: Connection,
    table: Table,
    edge_id: int,
    kind: str,
    rows: list,
    cams: dict[int, int],
    run_ids: dict[int, int],
) -> int:
    _upsert(conn, table, _filed(kind, rows, edge_id, cams, run_ids))
    return len(rows)


def _status(conn: Connection, rows: list, cams: dict[int, int]) -> int:
    # keyed by camera_id alone: the mapping above makes it one of this edge's cameras
    _upsert(
        conn,
        camera_status,
        [_mapped("status", i, r, cams, {}) for i, r in enumerate(rows)],
        keys=["camera_id"],
    )
    return len(rows)


# ---------------------------------------------------------------- event track ids


def _events(
    conn: Connection, edge_id: int, rows: list[EventRow], cams: dict[int, int], run_ids: dict[int, int]
) -> int:
    """Upsert the events with their tracker ids mapped to central track ids (see the module doc)."""
    filed = _filed("event", rows, edge_id, cams, run_ids)
    found = _track_ids(conn, edge_id, {(e["run_id"], t) for e in filed for t in e["track_ids"]})
    for event in filed:
        event["track_ids"], waiting = _map(event["track_ids"], event["run_id"], found, [])
        event["detail"] = _with_waiting(event["detail"], waiting)
    _upsert(conn, events, filed)
    return len(rows)


def _track_ids(
    conn: Connection, edge_id: int, wanted: set[tuple[int | None, int]]
) -> dict[tuple[int, int], list[int]]:
    """(central run id, tracker id) -> central ids of this edge's tracks."""
    by_run: dict[int, set[int]] = defaultdict(set)
    for run, tracker in wanted:
        if run is not None and tracker <= INT32:  # larger ids are the stitcher's, never a track's
            by_run[run].add(tracker)
    found: dict[tuple[int, int], list[int]] = defaultdict(list)
    for run, trackers in by_run.items():
        for chunk in _chunks(sorted(trackers)):
            query = select(tracks.c.tracker_id, tracks.c.id).where(
                tracks.c.edge_id == edge_id, tracks.c.run_id == run, tracks.c.tracker_id.in_(chunk)
            )
            for tracker, central_id in conn.execute(query):
                found[(run, tracker)].append(central_id)
    return found


def _map(
    trackers: list[int], run: int | None, found: dict[tuple[int, int], list[int]], mapped: list[int]
) -> tuple[list[int], list[int]]:
    """(``mapped`` plus the central ids of ``trackers``, the tracker ids with no track yet)."""
    out, waiting = list(mapped), []
    for tracker in trackers:
        central = found.get((run, tracker)) if run is not None else None
        if central:
            out += [i for i in sorted(central) if i not in out]
        else:
            waiting.append(tracker)
    return out, waiting


def _with_waiting(detail: dict[str, Any], waiting: list[int]) -> dict[str, Any]:
    rest = {k: v for k, v in detail.items() if k != UNMAPPED}  # the key is the central's alone
    return {**rest, UNMAPPED: waiting} if waiting else rest


def _remap_waiting_events(conn: Connection, edge_id: int, filed: dict[int, float]) -> None:
    """Map the waiting tracker ids of this edge's events in the runs of the tracks just filed.

    An event starts while its tracks are on view, so only events that started after the
    earliest of those tracks can be waiting for them.
    """
    if not filed:
        return
    query = select(events.c.id, events.c.run_id, events.c.track_ids, events.c.detail).where(
        events.c.edge_id == edge_id,
        events.c.run_id.in_(list(filed)),
        events.c.start_ts >= min(filed.values()) - 1.0,
        cast(events.c.detail, Text).contains(f'"{UNMAPPED}"'),
    )
    waiting = [row for row in conn.execute(query) if row.detail.get(UNMAPPED)]
    found = _track_ids(conn, edge_id, {(row.run_id, t) for row in waiting for t in row.detail[UNMAPPED]})
    for row in waiting:
        mapped, still = _map(row.detail[UNMAPPED], row.run_id, found, row.track_ids)
        if mapped != row.track_ids:
            conn.execute(
                update(events)
                .where(events.c.id == row.id)
                .values(track_ids=mapped, detail=_with_waiting(row.detail, still))
            )
