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

The upserts themselves are ``upsert.py``; an event's tracker ids become central track ids in
``event_tracks.py``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, update

from scenewatch.central import edges as registry
from scenewatch.central.event_tracks import map_event_tracks, remap_waiting_events
from scenewatch.central.shipment import EventRow, IngestError, Shipment, load, parse
from scenewatch.central.upsert import chunks, id_map, insert_terms, upsert, upsert_returning
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
        remap_waiting_events(conn, edge["id"], filed)
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
    upsert(
        conn,
        cameras,
        [
            {**r.model_dump(exclude={"id"}), "name": name, "edge_id": edge_id, "edge_row": r.id}
            for name, r in wanted.items()
        ],
    )
    return id_map(conn, cameras, edge_id, [r.id for r in rows])


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
    upsert(conn, runs, _filed("run", rows, edge_id, cams, {}))
    return id_map(conn, runs, edge_id, [r.id for r in rows])


def _tracks(
    conn: Connection, edge_id: int, rows: list, cams: dict[int, int], run_ids: dict[int, int]
) -> dict[int, float]:
    """File the tracks and their search terms; returns central run id -> earliest first_ts filed."""
    if not rows:
        return {}
    ids, replayed = upsert_returning(conn, tracks, _filed("track", rows, edge_id, cams, run_ids))
    # a replay re-files the terms: delete and insert, so removed terms do not linger
    for chunk in chunks(replayed):
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
    insert_terms(conn, terms)
    earliest: dict[int, float] = {}
    for r in rows:
        run = run_ids[r.run_id]
        earliest[run] = min(earliest.get(run, r.first_ts), r.first_ts)
    return earliest


def _simple(
    conn: Connection,
    table: Table,
    edge_id: int,
    kind: str,
    rows: list,
    cams: dict[int, int],
    run_ids: dict[int, int],
) -> int:
    upsert(conn, table, _filed(kind, rows, edge_id, cams, run_ids))
    return len(rows)


def _status(conn: Connection, rows: list, cams: dict[int, int]) -> int:
    # keyed by camera_id alone: the mapping above makes it one of this edge's cameras
    upsert(
        conn,
        camera_status,
        [_mapped("status", i, r, cams, {}) for i, r in enumerate(rows)],
        keys=["camera_id"],
    )
    return len(rows)


def _events(
    conn: Connection, edge_id: int, rows: list[EventRow], cams: dict[int, int], run_ids: dict[int, int]
) -> int:
    """Upsert the events with their tracker ids mapped to central track ids."""
    filed = _filed("event", rows, edge_id, cams, run_ids)
    map_event_tracks(conn, edge_id, filed)
    upsert(conn, events, filed)
    return len(rows)
