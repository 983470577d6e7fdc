"""Retention of records and media: tracks (with boxes, search terms, thumbnails), closed events
(with snapshots) and recorded segments older than the configured ages are deleted.

Audit rows are never deleted here: the log is append-only by design."""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel, Field

from scenewatch.api import queries
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
RETENTION_KEY = "retention"


class RetentionSettings(BaseModel):
    """Ages in days; empty keeps forever."""

    tracks_days: float | None = Field(
        None, gt=0, le=36500, description="Delete tracks and thumbnails older than this."
    )
    events_days: float | None = Field(
        None, gt=0, le=36500, description="Delete closed events and snapshots older than this."
    )
    recordings_days: float | None = Field(
        None, gt=0, le=36500, description="Delete recorded segments older than this."
    )


def current(store: DataStore) -> RetentionSettings:
    return RetentionSettings.model_validate(queries.get_setting(store.engine, RETENTION_KEY, {}))


def enforce(
    store: DataStore, settings: RetentionSettings | None = None, now: float | None = None
) -> dict[str, int]:
    """Apply ``settings`` once; returns how many of each were deleted. Files go before rows, so a
    crash in between leaves a row without a file (served as 404), never an untracked file."""
    settings = settings or current(store)
    now = time.time() if now is None else now
    done = {"tracks": 0, "events": 0, "recordings": 0}
    for table, days, finder in (
        ("tracks", settings.tracks_days, queries.old_tracks),
        ("events", settings.events_days, queries.old_events),
    ):
        if days is None:
            continue
        while batch := finder(store.engine, now - days * 86400):
            for _id, media in batch:
                if media:
                    try:
                        store.media.absolute(media).unlink(missing_ok=True)
                    except (OSError, ValueError) as exc:
                        log.warning("retention: cannot delete %s: %s", media, exc)
            queries.delete_rows(store.engine, table, [i for i, _ in batch])
            done[table] += len(batch)
    if settings.recordings_days is not None:
        from scenewatch.recording.retention import apply_retention

        done["recordings"] = len(apply_retention(store, settings.recordings_days * 86400, None, now=now))
    return done
