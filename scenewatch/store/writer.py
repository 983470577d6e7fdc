"""Writes tracks and their per-frame boxes as they happen, one transaction per half second at most.

A crash or kill loses at most the last ``flush_interval`` of results; SQLite in WAL mode keeps the
database itself consistent. The writer only writes rows: what happens when a track ends (finishing,
description, search index, standing searches) is the finishing stage's
(``scenewatch.flow.finish``), which hands each ended track back with :meth:`TrackWriter.complete`
and adds its own rows for the finished tracks to the writer's transaction (``flush(also=...)``).
Each track's best thumbnail is written just before the rows that point at it.

Layers: the store's writer sits below the stages that use it; it imports tracking's types and the
store's tables, never search, vision or the runtime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, bindparam, delete, insert, update

from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes, tracks
from scenewatch.store.sightings import pack_finished
from scenewatch.tracking import FinishedTrack, SummaryBook, TrackSummary
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_name


@dataclass
class _Stored:
    """What the database already holds of one track."""

    db_id: int | None = None
    frames: set[int] = field(default_factory=set)
    hits: int = 0
    score_sum: float = 0.0
    thumbnail: str | None = None
    thumbnail_time: float | None = None
    attributes: dict | None = None
    finished: bool = False
    drop: bool = False


@dataclass(frozen=True, slots=True)
class WrittenTrack:
    """A finished track as committed: its tracker id, database id and row values."""

    tracker_id: int
    db_id: int
    values: dict


AlsoWrite = Callable[[Connection, list[WrittenTrack]], None]


class TrackWriter:
    def __init__(
        self,
        store: DataStore,
        camera: str,
        camera_id: int,
        run_id: int,
        flush_interval: float = 0.5,  # with the gap between analysed frames, under the 1 s promised
    ):
        self.store = store
        self.camera = camera
        self.camera_id = camera_id
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.book = SummaryBook()
        self.stored: dict[int, _Stored] = {}
        self.summaries: dict[int, TrackSummary] = {}  # finished, awaiting their last write
        self.pending_boxes: list[dict] = []
        self.last_flush = time.monotonic()
        self.tracks_started = 0
        self.tracks_dropped = 0

    @property
    def due(self) -> bool:
        """Whether ``flush_interval`` has passed since the last transaction."""
        return time.monotonic() - self.last_flush >= self.flush_interval

    def add(self, frame: Frame, tracked: Detections) -> None:
        """Record one frame's tracked boxes."""
        self.book.observe(tracked, frame.image, frame.timestamp, frame.index)
        for row, tracker_id in enumerate(tracked.track_ids.tolist()):
            stored = self.stored.get(tracker_id)
            if stored is None:
                stored = self.stored[tracker_id] = _Stored()
                self.tracks_started += 1
            stored.frames.add(frame.index)
            stored.hits += 1
            stored.score_sum += float(tracked.scores[row])
            self._queue_box(
                tracker_id, frame.index, frame.timestamp, tracked.xyxy[row], tracked.scores[row], False
            )

    def ended(self, finished: list[FinishedTrack]) -> list[tuple[FinishedTrack, TrackSummary]]:
        """The ended tracks that were written (confirmed ones), each with its final summary; each
        must come back through :meth:`complete` or :meth:`drop`."""
        summaries = {s.track_id: s for s in self.book.pop(t.track_id for t in finished)}
        out = []
        for track in finished:
            stored = self.stored.get(track.track_id)
            summary = summaries.get(track.track_id)
            if stored is None or summary is None:
                continue  # never confirmed: nothing was written
            stored.finished = True
            out.append((track, summary))
        return out

    def drop(self, tracker_id: int) -> None:
        """Remove an ended track (a blip) with its rows at the next flush."""
        self.stored[tracker_id].drop = True
        self.tracks_dropped += 1

    def complete(
        self, track: FinishedTrack, done: FinishedTrack, summary: TrackSummary, attributes: dict | None = None
    ) -> None:
        """Write an ended track as finished (``done``): boxes it gained, final counts and summary."""
        stored = self.stored[track.track_id]
        observed = set(track.frame_indices.tolist())
        for k in np.flatnonzero(~np.isin(done.frame_indices, list(stored.frames))):
            frame = int(done.frame_indices[k])
            interpolated = frame not in observed
            self._queue_box(
                track.track_id, frame, float(done.times[k]), done.xyxy[k], done.scores[k], interpolated
            )
            stored.frames.add(frame)
        stored.hits, stored.score_sum = track.hits, float(track.scores.sum())
        stored.attributes = attributes
        summary.first_time = min(summary.first_time, float(done.times[0]))
        summary.first_frame = min(summary.first_frame, int(done.frame_indices[0]))
        self.summaries[track.track_id] = summary

    def _queue_box(
        self, tracker_id: int, frame: int, ts: float, xyxy: np.ndarray, score: float, interpolated: bool
    ) -> None:
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        self.pending_boxes.append(
            {
                "tracker_id": tracker_id,
                "frame": frame,
                "ts": ts,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "score": float(score),
                "interpolated": interpolated,
            }
        )

    def _summary(self, tracker_id: int) -> TrackSummary | None:
        return self.summaries.get(tracker_id) or self.book.running.get(tracker_id)

    def flush(self, also: AlsoWrite | None = None) -> list[WrittenTrack]:
        """One transaction: new and changed tracks, new boxes, dropped blips; ``also`` adds the
        caller's rows for the tracks finished in it. Returns those tracks.

        Thumbnails are written just before, so a committed row never points at a missing file.
        """
        self.last_flush = time.monotonic()
        touched = {b["tracker_id"] for b in self.pending_boxes} | set(self.summaries)
        if not touched:
            return []
        dropped = {i for i in touched if self.stored[i].drop}
        kept = {i: summary for i in touched - dropped if (summary := self._summary(i)) is not None}
        self._write_thumbnails(kept)
        with self.store.engine.begin() as conn:
            self._delete(conn, dropped)
            finished = self._write_tracks(conn, kept)
            if also is not None:
                also(conn, finished)
            self._write_boxes(conn, kept)
            pack_finished(conn, [track.db_id for track in finished])  # what a rule replay reads
        self.pending_boxes.clear()
        # Finished tracks are complete in the database: keep memory bounded on endless streams.
        for tracker_id in [i for i, s in self.stored.items() if s.finished]:
            del self.stored[tracker_id]
            self.summaries.pop(tracker_id, None)
        return finished

    def _delete(self, conn: Connection, dropped: set[int]) -> None:
        for tracker_id in dropped:
            if (db_id := self.stored[tracker_id].db_id) is not None:
                conn.execute(delete(boxes).where(boxes.c.track_id == db_id))
                conn.execute(delete(tracks).where(tracks.c.id == db_id))

    def _write_tracks(self, conn: Connection, kept: dict[int, TrackSummary]) -> list[WrittenTrack]:
        changed = []
        finished = []
        for tracker_id, summary in kept.items():
            stored = self.stored[tracker_id]
            values = self._track_values(stored, summary)
            if stored.db_id is None:
                stored.db_id = conn.execute(
                    insert(tracks)
                    .values(camera_id=self.camera_id, run_id=self.run_id, tracker_id=tracker_id, **values)
                    .returning(tracks.c.id)
                ).scalar_one()
            else:
                changed.append({"_id": stored.db_id, **values})
            if stored.finished:
                finished.append(WrittenTrack(tracker_id, stored.db_id, values))
        if changed:
            conn.execute(update(tracks).where(tracks.c.id == bindparam("_id")), changed)
        return finished

    def _write_boxes(self, conn: Connection, kept: dict[int, TrackSummary]) -> None:
        rows = [
            {
                **{k: v for k, v in b.items() if k != "tracker_id"},
                "track_id": self.stored[b["tracker_id"]].db_id,
            }
            for b in self.pending_boxes
            if b["tracker_id"] in kept
        ]
        if rows:
            conn.execute(insert(boxes), rows)

    def store_attributes(self, conn: Connection, db_id: int, attributes: dict | None) -> None:
        """A finished track's attributes, described after its row was written."""
        conn.execute(update(tracks).where(tracks.c.id == db_id).values(attributes=attributes))

    def _track_values(self, stored: _Stored, summary: TrackSummary) -> dict:
        return {
            "class_name": class_name(summary.class_id),
            "first_ts": summary.first_time,
            "last_ts": summary.last_time,
            "first_frame": summary.first_frame,
            "last_frame": summary.last_frame,
            "detections": stored.hits,
            "score": stored.score_sum / max(stored.hits, 1),
            "path": [[round(t, 3), round(x, 1), round(y, 1)] for t, x, y in summary.path],
            "thumbnail": stored.thumbnail,
            "finished": stored.finished,
            "attributes": stored.attributes,
        }

    def _write_thumbnails(self, summaries: dict[int, TrackSummary]) -> None:
        for tracker_id, summary in summaries.items():
            stored = self.stored[tracker_id]
            if summary.thumbnail is not None and stored.thumbnail_time != summary.thumbnail_time:
                stored.thumbnail = self.store.media.thumbnail_path(self.camera, self.run_id, tracker_id)
                self.store.media.write_jpeg(stored.thumbnail, summary.thumbnail)
                stored.thumbnail_time = summary.thumbnail_time
