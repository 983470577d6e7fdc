"""Reading the audit log: pages for the UI and API, and whole exports (JSON lines to re-verify,
CSV for a spreadsheet). Each read first waits for this process's queued records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from scenewatch.api.audit_chain import Database, engine_of, flush
from scenewatch.store.schema import audit_log


def rows(
    db: Database,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    user: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[dict[str, Any]]:
    """Newest first, paged by ``before_id``; ``since``/``until`` bound the time (epoch seconds)."""
    flush(db)
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if since is not None:
        query = query.where(audit_log.c.ts >= since)
    if until is not None:
        query = query.where(audit_log.c.ts < until)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if user is not None:
        query = query.where(audit_log.c.user == user)
    with engine_of(db).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def all_rows(db: Database, batch: int = 1000) -> Iterator[dict[str, Any]]:
    flush(db)
    query = select(audit_log).order_by(audit_log.c.id).limit(batch)
    last = None  # no lower bound at first: a row forged with a negative id is walked too
    while True:
        page = query if last is None else query.where(audit_log.c.id > last)
        with engine_of(db).connect() as conn:
            chunk = [dict(r._mapping) for r in conn.execute(page)]
        yield from chunk
        if len(chunk) < batch:
            return
        last = chunk[-1]["id"]


def export_jsonl(db: Database) -> Iterator[str]:
    """Every row, oldest first, one JSON object a line: re-verifiable outside SceneWatch."""
    for row in all_rows(db):
        yield json.dumps(row, sort_keys=True, ensure_ascii=False, default=str) + "\n"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP CSV injection).

    >>> spreadsheet_safe('=HYPERLINK("http://x","y")'), spreadsheet_safe("admin"), spreadsheet_safe(1.5)
    ('\\'=HYPERLINK("http://x","y")', 'admin', 1.5)
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def export_csv(db: Database) -> Iterator[str]:
    """Every row for reading in a spreadsheet (text cells made formula-safe; verify the JSONL)."""
    fields = ["id", "ts", "user", "action", "target", "detail", "prev_hash", "hash", "mac"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in all_rows(db):
        cells = [json.dumps(row[f], sort_keys=True) if f == "detail" else row[f] for f in fields]
        writer.writerow([spreadsheet_safe(c) for c in cells])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
