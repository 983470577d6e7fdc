"""Writes tracks and their per-frame boxes as they happen, one transaction per half second at most.

A crash or kill loses at most the last ``flush_interval`` of results; SQLite in WAL mode keeps the
database itself consistent. When a track ends it is finished as configured (too-short blips are
removed, short gaps filled with interpolated boxes, boxes from before confirmation added) and its
best thumbnail is written.

Description (the track's searchable attributes) runs in one of two ways:

- inline (no ``describe_queue``, e.g. ``index_file``): in the caller's thread when the track ends;
  the finished row, its attributes and its search index rows land in one transaction;
- in the background (a :class:`~scenewatch.runtime.describe.DescribeQueue`, live cameras): the
  camera's thread only detaches the track's crops; the finished row is stored and indexed by its
  class at once, and the worker then stores the attributes and re-indexes the track in one
  transaction of its own (the same rows as inline). ``close`` waits for the writer's descriptions.
  A track whose description had not run when the process was killed stays stored, finished,
  with its boxes, path, thumbnail and class index, and ``attributes`` NULL: undescribed (its crops
  were only in memory, so it is not described later); search finds it by class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sqlalchemy import bindparam, delete, insert, update

from scenewatch.runtime.describe import DescribeJob, DescribeQueue
from scenewatch.search.index import index_tracks
from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes, tracks
from scenewatch.tracking import FinishedTrack, SummaryBook, TrackSummary
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_name

log = logging.getLogger(__name__)

Finisher = Callable[[FinishedTrack], FinishedTrack | None]


class TrackDescriber(Protocol):
    """Computes a track's searchable attributes once, when it ends (see ``vision/attributes``)."""

    def observe(self, frame: Frame, tracked: Detections, raw: Detections) -> None:
        """See one detected frame: the tracked boxes and everything the detector found."""

    def describe(self, track: FinishedTrack, summary: TrackSummary) -> dict | None:
        """The attributes JSON stored with the track; None to store none."""


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
    job: DescribeJob | None = None  # its description, handed to the queue once the row is stored


class TrackWriter:
    def __init__(
        self,
        store: DataStore,
        camera: str,
        camera_id: int,
        run_id: int,
        finisher: Finisher | None = None,
        describer: TrackDescriber | None = None,
        flush_interval: float = 0.5,  # with the gap between analysed frames, under the 1 s promised
        describe_queue: DescribeQueue | None = None,
        drain_timeout: float | None = 300.0,
    ):
        self.store = store
        self.camera = camera
        self.camera_id = camera_id
        self.run_id = run_id
        self.finisher = finisher or (lambda track: track)
        self.describer = describer
        # background description needs a describer that can detach a track from its state
        # (``detach(track, summary) -> DescribeJob``, as AttributeDescriber does)
        self.describe_queue = describe_queue if hasattr(describer, "detach") else None
        self.drain_timeout = drain_timeout
        self.flush_interval = flush_interval
        self.book = SummaryBook()
        self.stored: dict[int, _Stored] = {}
        self.summaries: dict[int, TrackSummary] = {}  # finished, awaiting their last write
        self.pending_boxes: list[dict] = []
        self.last_flush = time.monotonic()
        self.tracks_started = 0
        self.tracks_dropped = 0
        # told the database ids of finished tracks once their description and index rows are
        # committed (standing searches judge them then); in the flush or the describer's thread
        self.on_indexed: list[Callable[[list[int]], None]] = []

    def add(
        self, frame: Frame, tracked: Detections, finished: list[FinishedTrack], raw: Detections | None = None
    ) -> None:
        """Record one frame's tracked boxes and the tracks that ended with it.

        ``raw`` is everything the detector found (carried items, for instance), for the describer.
        """
        self.book.observe(tracked, frame.image, frame.timestamp, frame.index)
        if self.describer is not None:
            self.describer.observe(frame, tracked, raw if raw is not None else tracked)
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
        if finished:
            self.finish(finished, flush=False)
        if time.monotonic() - self.last_flush >= self.flush_interval:
            self.flush()

    def finish(self, finished: list[FinishedTrack], flush: bool = True) -> None:
        """Complete ended tracks: finishing, missing boxes, final summary."""
        summaries = {s.track_id: s for s in self.book.pop(t.track_id for t in finished)}
        for track in finished:
            stored = self.stored.get(track.track_id)
            summary = summaries.get(track.track_id)
            if stored is None or summary is None:
                continue  # never confirmed: nothing was written
            stored.finished = True
            done = self.finisher(track)
            if done is None:
                stored.drop = True
                self.tracks_dropped += 1
                continue
            observed = set(track.frame_indices.tolist())
            for k in np.flatnonzero(~np.isin(done.frame_indices, list(stored.frames))):
                frame = int(done.frame_indices[k])
                self._queue_box(
                    track.track_id,
                    frame,
                    float(done.times[k]),
                    done.xyxy[k],
                    done.scores[k],
                    frame not in observed,
                )
                stored.frames.add(frame)
            stored.hits, stored.score_sum = track.hits, float(track.scores.sum())
            if self.describe_queue is not None:
                stored.job = self.describer.detach(done, summary)  # type: ignore[union-attr]
            elif self.describer is not None:
                stored.attributes = self.describer.describe(done, summary)
            summary.first_time = min(summary.first_time, float(done.times[0]))
            summary.first_frame = min(summary.first_frame, int(done.frame_indices[0]))
            self.summaries[track.track_id] = summary
        if flush:
            self.flush()

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

    def flush(self) -> None:
        """One transaction: new and changed tracks, new boxes, dropped blips.

        Thumbnails are written just before, so a committed row never points at a missing file.
        """
        self.last_flush = time.monotonic()
        touched = {b["tracker_id"] for b in self.pending_boxes} | set(self.summaries)
        if not touched:
            return
        dropped = {i for i in touched if self.stored[i].drop}
        kept = {i: summary for i in touched - dropped if (summary := self._summary(i)) is not None}
        self._write_thumbnails(kept)
        with self.store.engine.begin() as conn:
            for tracker_id in dropped:
                if (db_id := self.stored[tracker_id].db_id) is not None:
                    conn.execute(delete(boxes).where(boxes.c.track_id == db_id))
                    conn.execute(delete(tracks).where(tracks.c.id == db_id))
            changed = []
            finished = []  # (db id, row values) of tracks that ended: they go to the search index
            jobs = []  # (job, db id, row values) of tracks to describe in the background
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
                    finished.append((stored.db_id, values))
                    if stored.job is not None:
                        jobs.append((stored.job, stored.db_id, values))
                        stored.job = None
            if changed:
                conn.execute(update(tracks).where(tracks.c.id == bindparam("_id")), changed)
            # search: a finished track's index rows land in the same transaction as its attributes
            index_tracks(conn, self.camera_id, finished)
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
        self.pending_boxes.clear()
        queued = {db_id for _, db_id, _ in jobs}
        self._indexed([db_id for db_id, _ in finished if db_id not in queued])
        for job, db_id, values in jobs:  # their rows are committed: the worker can update them
            self.describe_queue.submit(  # type: ignore[union-attr]
                self,
                self.camera,
                job,
                lambda attributes, i=db_id, v=values: self._described(i, v, attributes),
            )
        # Finished tracks are complete in the database: keep memory bounded on endless streams.
        for tracker_id in [i for i, s in self.stored.items() if s.finished]:
            del self.stored[tracker_id]
            self.summaries.pop(tracker_id, None)

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

    def _described(self, db_id: int, values: dict, attributes: dict | None) -> None:
        """Store a background description and re-index the track (in the describer's thread)."""
        with self.store.engine.begin() as conn:
            conn.execute(update(tracks).where(tracks.c.id == db_id).values(attributes=attributes))
            index_tracks(conn, self.camera_id, [(db_id, {**values, "attributes": attributes})])
        self._indexed([db_id])

    def _indexed(self, db_ids: list[int]) -> None:
        if not db_ids:
            return
        for observer in self.on_indexed:
            try:
                observer(db_ids)
            except Exception:  # an observer's failure never costs the tracks
                log.exception("camera %s: observer of finished tracks failed", self.camera)

    def close(self) -> None:
        """Write what is left and wait (at most ``drain_timeout``) for this writer's descriptions."""
        self.flush()
        if self.describe_queue is not None:
            self.describe_queue.drain(self, self.drain_timeout)
