"""The edge's durable sync outbox in its own SQLite: triggers fill it, the sync thread drains it.

Triggers catch every change the central must see without touching the pipeline's writers: a
track when it is finished, every insert and update of events, health events, runs, cameras and
camera status. A row names (kind, id); the shipment carries the row's current state, so several
changes of one row ship once, and a replay after a crash ships the same state again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text

from scenewatch.store.schema import (
    camera_status,
    cameras,
    events,
    health_events,
    runs,
    sync_outbox,
    track_terms,
    tracks,
)

# kind -> (table, id column, condition a row must meet to be shipped)
KINDS = {
    "camera": (cameras, cameras.c.id, "1"),
    "run": (runs, runs.c.id, "1"),
    "track": (tracks, tracks.c.id, "NEW.finished"),
    "event": (events, events.c.id, "1"),
    "health": (health_events, health_events.c.id, "1"),
    "status": (camera_status, camera_status.c.camera_id, "1"),
}
ORDER = list(KINDS)  # backfill order: what rows refer to comes first


def install(engine: Engine) -> int:
    """Create the triggers (idempotent); the first time, queue every existing row (backfill).

    Returns the rows queued by the backfill.
    """
    if engine.dialect.name != "sqlite":
        raise ValueError("the edge outbox lives in the edge's SQLite database")
    with engine.begin() as conn:
        present = set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        fresh = "sync_track_insert" not in present
        for kind, (table, id_col, when) in KINDS.items():
            for op in ("insert", "update"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS sync_{kind}_{op} AFTER {op.upper()} ON {table.name} "
                    f"WHEN {when} BEGIN INSERT INTO sync_outbox (kind, row_id) "
                    f"VALUES ('{kind}', NEW.{id_col.name}); END"
                )
        if not fresh:
            return 0
        queued = 0
        for kind in ORDER:
            table, id_col, _ = KINDS[kind]
            where = "WHERE finished" if kind == "track" else ""
            queued += conn.exec_driver_sql(
                f"INSERT INTO sync_outbox (kind, row_id) SELECT '{kind}', {id_col.name} "
                f"FROM {table.name} {where} ORDER BY {id_col.name}"
            ).rowcount
        return queued


@dataclass(slots=True)
class Batch:
    """A shipment: the rows' current state by kind, and the outbox range it acknowledges."""

    last_seq: int
    rows: dict[str, list[dict[str, Any]]]
    entries: int  # outbox entries it acknowledges

    def size(self) -> int:
        return sum(len(v) for v in self.rows.values())


def backlog(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(sync_outbox)) or 0


def next_batch(engine: Engine, limit: int) -> Batch | None:
    """The oldest ``limit`` outbox entries as a shipment; None when the outbox is empty.

    Cameras and runs that rows refer to always travel along, so the central can file any
    shipment on its own, whatever was acknowledged before.
    """
    with engine.connect() as conn:
        entries = conn.execute(
            select(sync_outbox.c.seq, sync_outbox.c.kind, sync_outbox.c.row_id)
            .order_by(sync_outbox.c.seq)
            .limit(limit)
        ).all()
        if not entries:
            return None
        wanted: dict[str, dict[int, None]] = {k: {} for k in KINDS}
        for _, kind, row_id in entries:
            if kind in wanted:
                wanted[kind][row_id] = None
        rows = {kind: _load(conn, kind, list(ids)) for kind, ids in wanted.items()}
        rows["track"] = _with_terms(conn, rows["track"])
        run_ids = {r["run_id"] for k in ("track", "event") for r in rows[k] if r.get("run_id") is not None}
        run_ids -= {r["id"] for r in rows["run"]}
        rows["run"] += _load(conn, "run", sorted(run_ids))
        rows["camera"] = _load(conn, "camera", list(conn.scalars(select(cameras.c.id))))
    return Batch(entries[-1].seq, {k: v for k, v in rows.items() if v}, len(entries))


def _load(conn: Connection, kind: str, ids: list[int]) -> list[dict[str, Any]]:
    table, id_col, _ = KINDS[kind]
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 500):
        query = select(table).where(id_col.in_(ids[i : i + 500])).order_by(id_col)
        out += [_plain(row._mapping) for row in conn.execute(query)]
    return out


def _plain(mapping) -> dict[str, Any]:
    row = {k: v for k, v in mapping.items() if k not in ("edge_id", "edge_row")}
    return row


def _with_terms(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach each track's search terms (computed once, on the edge, by ``search/index.py``)."""
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        r["terms"] = []
    ids = list(by_id)
    for i in range(0, len(ids), 500):
        query = select(track_terms.c.track_id, track_terms.c.term, track_terms.c.weight).where(
            track_terms.c.track_id.in_(ids[i : i + 500])
        )
        for track_id, term, weight in conn.execute(query):
            by_id[track_id]["terms"].append([term, weight])
    return rows


def acknowledge(engine: Engine, last_seq: int) -> None:
    """The central has everything up to ``last_seq``: drop those entries."""
    with engine.begin() as conn:
        conn.execute(delete(sync_outbox).where(sync_outbox.c.seq <= last_seq))
