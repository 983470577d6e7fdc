"""The durable outbox: one row per (alert, destination), in the database beside everything else.

Rows are written when an alert is submitted, so an alert survives a crash, a restart or a receiver
that is down for days; a worker takes due rows, tries them, and records the outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from scenewatch.notify.alert import Alert
from scenewatch.store.schema import alert_outbox as T

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(slots=True)
class Row:
    id: int
    alert: Alert
    destination: str
    attempts: int


def add(engine: Engine, alert: Alert, destinations: list[str], now: float | None = None) -> int:
    """Queue ``alert`` for each destination; returns rows added (a repeated key adds none)."""
    if not destinations:
        return 0
    now = time.time() if now is None else now
    record = alert.to_record()
    rows = [
        {
            "alert_key": alert.key,
            "destination": dest,
            "kind": alert.kind,
            "camera": alert.camera,
            "body": record,
            "state": PENDING,
            "attempts": 0,
            "next_try_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for dest in destinations
    ]
    try:
        with engine.begin() as conn:
            conn.execute(insert(T), rows)
        return len(rows)
    except IntegrityError:
        pass  # the key was seen before (for some destination): add only the missing ones
    added = 0
    for row in rows:
        try:
            with engine.begin() as conn:
                conn.execute(insert(T), [row])
            added += 1
        except IntegrityError:
            continue
    return added


def due(engine: Engine, destination: str, now: float | None = None, limit: int = 20) -> list[Row]:
    """Pending rows of ``destination`` whose time has come, oldest first."""
    now = time.time() if now is None else now
    query = (
        select(T.c.id, T.c.body, T.c.destination, T.c.attempts)
        .where(and_(T.c.destination == destination, T.c.state == PENDING, T.c.next_try_at <= now))
        .order_by(T.c.next_try_at, T.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Row(r.id, Alert.from_record(r.body), r.destination, r.attempts) for r in conn.execute(query)]


def next_due_at(engine: Engine, destination: str) -> float | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(func.min(T.c.next_try_at)).where(
                and_(T.c.destination == destination, T.c.state == PENDING)
            )
        )


def mark_delivered(engine: Engine, row: Row, now: float | None = None) -> None:
    _set(engine, row.id, state=DELIVERED, attempts=row.attempts + 1, last_error=None, now=now)


def mark_failed(engine: Engine, row: Row, reason: str, now: float | None = None) -> None:
    """Given up: kept as 'failed' (never deleted unseen) until retention or a re-queue."""
    _set(engine, row.id, state=FAILED, attempts=row.attempts + 1, last_error=reason[:1000], now=now)


def mark_retry(engine: Engine, row: Row, reason: str, at: float, now: float | None = None) -> None:
    _set(
        engine,
        row.id,
        state=PENDING,
        attempts=row.attempts + 1,
        last_error=reason[:1000],
        now=now,
        next_try_at=at,
    )


def _set(engine: Engine, row_id: int, now: float | None, **values: Any) -> None:
    values["updated_at"] = time.time() if now is None else now
    with engine.begin() as conn:
        conn.execute(update(T).where(T.c.id == row_id).values(**values))


def requeue_failed(engine: Engine, destination: str | None = None) -> int:
    """Put given-up rows back in the queue (after fixing a receiver); returns how many."""
    where = T.c.state == FAILED
    if destination is not None:
        where = and_(where, T.c.destination == destination)
    with engine.begin() as conn:
        now = time.time()
        return conn.execute(
            update(T).where(where).values(state=PENDING, attempts=0, next_try_at=now, updated_at=now)
        ).rowcount


def counts(engine: Engine) -> dict[tuple[str, str], int]:
    """Rows per (destination, state), for status pages and tests."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(T.c.destination, T.c.state, func.count()).group_by(T.c.destination, T.c.state)
        )
        return {(d, s): n for d, s, n in rows}


def pending_destinations(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(T.c.destination, func.count()).where(T.c.state == PENDING).group_by(T.c.destination)
        )
        return dict(rows.all())


def purge(engine: Engine, delivered_before: float, failed_before: float) -> int:
    """Delete delivered and given-up rows past their retention; pending rows are never purged."""
    with engine.begin() as conn:
        return conn.execute(
            delete(T).where(
                (and_(T.c.state == DELIVERED, T.c.updated_at < delivered_before))
                | (and_(T.c.state == FAILED, T.c.updated_at < failed_before))
            )
        ).rowcount
