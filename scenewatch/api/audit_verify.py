"""Checking the audit log: the hash chain, each row's MAC, and the checkpoints outside the database.

A row fails when it does not link to the row before (changed, deleted or reordered rows), when its
hash does not match its content (a change), when its MAC does not match (a rewrite with recomputed
hashes, or another key) or is missing where rows are signed, or when it differs from a checkpoint.
The log fails when it ends before the newest checkpoint (the newest rows were deleted). Rows
written before MACs existed pass as ``unanchored_before``: the chain still links them, but whoever
could write the database could have rewritten them unseen.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from scenewatch.api.audit_anchor import Anchor, Checkpoint, row_mac
from scenewatch.api.audit_chain import GENESIS, Database, chain_of, flush, link
from scenewatch.api.audit_export import all_rows


def verify(db: Database) -> dict[str, Any]:
    """``{"ok", "rows", "head", "first_bad", "reason", "unanchored_before", "checkpoint"}``."""
    anchor = chain_of(db).anchor
    flush(db)  # this process's queued records and owed checkpoint first
    key = anchor.existing_key()
    points, bad_lines = anchor.read_checkpoints(key) if key is not None else ([], [])
    walk = _Walk(anchor, key, points)
    for row in all_rows(db):
        if (reason := walk.step(row)) is not None:
            return walk.result(reason, None if walk.key_missing else row["id"])
    return walk.result(_ending(walk, anchor, key, points, bad_lines), None)


class _Walk:
    """The state of one pass over the rows, oldest first."""

    def __init__(self, anchor: Anchor, key: bytes | None, points: list[Checkpoint]):
        self.anchor = anchor
        self.key = key
        self.key_missing = False
        self.points: dict[int, list[Checkpoint]] = {}  # every one: ids reused after a cut must match
        for point in points:
            self.points.setdefault(point.id, []).append(point)
        self.latest = max(points, key=lambda p: p.id, default=None)
        self.signed_from = min((p.anchored_from for p in points), default=None)
        self.rows = 0
        self.head = GENESIS
        self.last_id: int | None = None
        self.unanchored_before: int | None = None
        self.signed = False

    def step(self, row: dict[str, Any]) -> str | None:
        """Check one row; the reason it fails, or None."""
        self.rows += 1
        if row["prev_hash"] != self.head:
            return "the row before it was changed, deleted or reordered"
        expected = link(self.head, row["ts"], row["user"], row["action"], row["target"], row["detail"])
        if row["hash"] != expected:
            return "the row itself was changed"
        if (reason := self._mac(row)) is not None:
            return reason
        for point in self.points.get(row["id"], ()):
            if row["hash"] != point.head or self.rows != point.rows:
                return f"it differs from the checkpoint of {_time(point.ts)}: rows up to it were deleted, added or rewritten"
        self.head, self.last_id = row["hash"], row["id"]
        return None

    def _mac(self, row: dict[str, Any]) -> str | None:
        if row.get("mac") is None:
            if self.signed or (self.signed_from is not None and row["id"] >= self.signed_from):
                return "its MAC was removed: the row was rewritten"
            self.unanchored_before = row["id"] + 1
            return None
        self.signed = True
        if self.key is None:
            self.key_missing = True
            return _missing_key(self.anchor)
        if not hmac.compare_digest(str(row["mac"]), row_mac(self.key, row["id"], row["hash"])):
            return "its MAC does not match: the row was rewritten with recomputed hashes (or the audit key was replaced)"
        return None

    def result(self, reason: str | None, first_bad: int | None) -> dict[str, Any]:
        latest = self.latest
        return {
            "ok": reason is None,
            "rows": self.rows,
            "head": self.head,
            "first_bad": first_bad,
            "reason": reason,
            "unanchored_before": self.unanchored_before,
            "checkpoint": None
            if latest is None
            else {"id": latest.id, "rows": latest.rows, "head": latest.head, "ts": latest.ts},
        }


def _ending(
    walk: _Walk, anchor: Anchor, key: bytes | None, points: list[Checkpoint], bad_lines: list[int]
) -> str | None:
    """What is wrong with the log as a whole once every row passed: None when nothing."""
    if key is None and anchor.path.exists():
        return _missing_key(anchor)
    if bad_lines:
        lines = ", ".join(map(str, bad_lines[:5]))
        return (
            f"line(s) {lines} of {anchor.path} have a bad MAC: the file was edited or the audit key replaced"
        )
    latest = walk.latest
    if latest is not None and (walk.last_id or 0) < latest.id:
        return (
            f"the newest rows were deleted: the log ends with row {walk.rows} (id {walk.last_id}) but "
            f"the checkpoint of {_time(latest.ts)} has {latest.rows} rows up to id {latest.id}"
        )
    if walk.signed and not points:
        return f"the checkpoint file {anchor.path} is missing or empty, so truncation cannot be checked"
    return None


def _missing_key(anchor: Anchor) -> str:
    return (
        f"the audit key file {anchor.key_file} is missing, so the MACs and checkpoints cannot be "
        "checked (restore it from a backup)"
    )


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
