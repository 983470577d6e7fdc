"""Retention of recorded segments: by age, then by a disk budget for all cameras, oldest first."""

from __future__ import annotations

import logging
import time

from scenewatch.recording import index
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)


def apply_retention(
    store: DataStore, max_age_s: float | None, budget_bytes: int | None, now: float | None = None
) -> list[str]:
    """Delete segments older than ``max_age_s`` and then the oldest ones until all fit in
    ``budget_bytes``; returns the deleted paths. Files go first, then their rows, so a crash in
    between leaves a row without a file (skipped by clip cutting), never a file nobody tracks."""
    now = time.time() if now is None else now
    doomed = index.older_than(store.engine, now - max_age_s) if max_age_s is not None else []
    if budget_bytes is not None:
        total = index.total_bytes(store.engine) - sum(s.bytes for s in doomed)
        chosen = {s.id for s in doomed}
        while total > budget_bytes:
            batch = [s for s in index.oldest_first(store.engine, len(chosen) + 200) if s.id not in chosen]
            if not batch:
                break
            for seg in batch:
                if total <= budget_bytes:
                    break
                doomed.append(seg)
                chosen.add(seg.id)
                total -= seg.bytes
    for seg in doomed:
        try:
            store.media.absolute(seg.path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("recording: cannot delete %s: %s", seg.path, exc)
    index.remove(store.engine, [s.id for s in doomed])
    if doomed:
        log.info(
            "recording: retention deleted %d segments (%.1f MB)",
            len(doomed),
            sum(s.bytes for s in doomed) / 1e6,
        )
    return [s.path for s in doomed]
