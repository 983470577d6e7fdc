"""Retention of records and media: tracks (with boxes, search terms, thumbnails), closed events
(with snapshots and clip files) and recorded segments older than the configured ages are deleted.
Only files inside the media folder are ever deleted (a file event's clip is its source footage,
which is never touched). Clips rendered for viewing (``cache/``) are deleted a day after their
last use, so no rendered copy outlives its event or recording for long.

Audit rows are never deleted here: the log is append-only by design."""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel, Field

from scenewatch.api import queries
from scenewatch.store import partitions, repo
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
RETENTION_KEY = "retention"
CACHE_FOLDERS = ("cache/clips", "cache/raw")  # rendered and cut clips, made again when asked for
CACHE_UNUSED_S = 86400.0


class RetentionSettings(BaseModel):
    """Ages in days; empty keeps forever."""

    tracks_days: float | None = Field(
        None, gt=0, le=36500, description="Delete tracks and thumbnails older than this."
    )
    events_days: float | None = Field(
        None, gt=0, le=36500, description="Delete closed events, their snapshots and clips older than this."
    )
    recordings_days: float | None = Field(
        None, gt=0, le=36500, description="Delete recorded segments older than this."
    )


def current(store: DataStore) -> RetentionSettings:
    return RetentionSettings.model_validate(repo.get_setting(store.engine, RETENTION_KEY, {}))


def _unlinker(store: DataStore):
    def unlink(paths: list[str]) -> None:
        for media in paths:
            try:
                store.media.absolute(media).unlink(missing_ok=True)
            except (OSError, ValueError) as exc:
                log.warning("retention: cannot delete %s: %s", media, exc)

    return unlink


def _sweep_cache(store: DataStore, now: float) -> int:
    """Delete cached clips unused (rendered or served) for :data:`CACHE_UNUSED_S`."""
    deleted = 0
    for folder in CACHE_FOLDERS:
        root = store.media.absolute(folder)
        if not root.is_dir():
            continue
        for path in root.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < now - CACHE_UNUSED_S:
                    path.unlink()
                    deleted += 1
            except OSError as exc:
                log.warning("retention: cannot delete %s: %s", path, exc)
    return deleted


def enforce(
    store: DataStore, settings: RetentionSettings | None = None, now: float | None = None
) -> dict[str, int]:
    """Apply ``settings`` once; returns how many of each were deleted. Files go before rows, so a
    crash in between leaves a row without a file (served as 404), never an untracked file."""
    settings = settings or current(store)
    now = time.time() if now is None else now
    done = {"tracks": 0, "events": 0, "recordings": 0, "clip_cache": _sweep_cache(store, now)}
    # PostgreSQL: today's and tomorrow's partitions exist before a local writer needs them
    partitions.ensure(store.engine, [now, now + partitions.PERIOD_S])
    for table, days, finder in (
        ("tracks", settings.tracks_days, queries.old_tracks),
        ("events", settings.events_days, queries.old_events),
    ):
        if days is None:
            continue
        if table == "tracks":  # PostgreSQL: whole days first (partitions), then what is left
            done[table] += partitions.drop_before(store.engine, now - days * 86400, _unlinker(store))
        while batch := finder(store.engine, now - days * 86400):
            _unlinker(store)([media for _id, files in batch for media in files])
            queries.delete_rows(store.engine, table, [i for i, _ in batch])
            done[table] += len(batch)
    if settings.recordings_days is not None:
        from scenewatch.recording.retention import apply_retention

        done["recordings"] = len(apply_retention(store, settings.recordings_days * 86400, None, now=now))
    return done
