"""The finishing stage, between tracking and storage: each frame's tracks go to the writer; a track
that ends is finished, described, stored, indexed for search and announced, in that order.

- finish: too-short blips are dropped, short gaps filled with interpolated boxes
  (``scenewatch.tracking.finish_track``, as configured); a blip that an event of the run names
  is kept as it was observed, so the event always shows a stored track (never none, never
  another one: stored tracks keep their tracker ids, see ``scenewatch.rules.store``);
- describe: the track's searchable attributes (``scenewatch.vision.attributes``), either inline
  (no ``describe_queue``, e.g. ``index_file``: the finished row, its attributes and its search
  index rows land in one transaction) or in the node's background worker
  (:class:`~scenewatch.runtime.describe.DescribeQueue`, live cameras: the camera's thread only
  detaches the track's crops; the finished row is stored and indexed by its class at once, and the
  worker then stores the attributes and re-indexes the track in one transaction of its own, the
  same rows as inline). ``close`` waits for this stage's descriptions. A track whose description
  had not run when the process was killed stays stored, finished, with its boxes, path, thumbnail
  and class index, and ``attributes`` NULL (its crops were only in memory); search finds it by class;
- index: ``scenewatch.search.index`` rows, in the transaction that makes the track final;
- describe again: what the describer learns later changes a few earlier descriptions (a camera's
  first vehicles, typed before it had seen enough cars to size them against); their attributes
  and index rows are rewritten as it tells (``TrackDescriber.retype``), at the latest on ``close``;
- announce: ``on_indexed`` observers (standing searches) get the database ids once committed.

Each step calls only lower layers (store writer, search index, describer); none calls back up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection, select

from scenewatch.rules.store import event_tracker_ids
from scenewatch.runtime.describe import DescribeJob, DescribeQueue
from scenewatch.search.index import index_tracks
from scenewatch.search.vectors import split_vector, store_vectors
from scenewatch.store.schema import tracks
from scenewatch.store.writer import TrackWriter, WrittenTrack
from scenewatch.tracking import FinishedTrack, TrackSummary
from scenewatch.types import Detections, Frame

log = logging.getLogger(__name__)

Finisher = Callable[[FinishedTrack], FinishedTrack | None]


class TrackDescriber(Protocol):
    """Computes a track's searchable attributes once, when it ends (``AttributeDescriber``)."""

    zones: dict[str, Any]  # the camera's zones by name, for a track's 'zones' attribute

    def observe(self, frame: Frame, tracked: Detections, raw: Detections) -> None:
        """See one detected frame: the tracked boxes and everything the detector found."""

    def describe(self, track: FinishedTrack, summary: TrackSummary) -> dict | None:
        """The attributes JSON stored with the track; None to store none."""

    def detach(self, track: FinishedTrack, summary: TrackSummary) -> DescribeJob:
        """Take what describing ``track`` needs out of the per-frame state; the job computes the
        attributes later, in any thread (the background describer's way)."""

    def retype(self, final: bool = False) -> dict[int, dict]:
        """Tracker id -> attributes that change for tracks described before the describer knew
        as much as now (vehicles typed against fewer cars); ``final``: the run ends."""


class FinishStage:
    """One camera's finishing stage over its :class:`TrackWriter`; verbs ``add`` (each tracked
    frame), ``finish`` (tracks that ended), ``flush`` and ``close``."""

    def __init__(
        self,
        writer: TrackWriter,
        finisher: Finisher | None = None,
        describer: TrackDescriber | None = None,
        describe_queue: DescribeQueue | None = None,
        drain_timeout: float | None = 300.0,
    ):
        self.writer = writer
        self.finisher = finisher or (lambda track: track)
        self.describer = describer
        self.describe_queue = describe_queue if describer is not None else None
        self.drain_timeout = drain_timeout
        self.jobs: dict[int, DescribeJob] = {}  # tracker id -> description, queued once its row is stored
        self.vectors: dict[int, Any] = {}  # tracker id -> image embedding, stored with its index rows
        self.named: set[int] = set()  # tracker ids of tracks still open that the run's events name
        self.events_read = 0  # the highest event row id read into ``named``
        # told the database ids of finished tracks once their description and index rows are
        # committed (standing searches judge them then); in the flush or the describer's thread
        self.on_indexed: list[Callable[[list[int]], None]] = []

    @property
    def tracks_started(self) -> int:
        return self.writer.tracks_started

    def add(
        self, frame: Frame, tracked: Detections, finished: list[FinishedTrack], raw: Detections | None = None
    ) -> None:
        """One frame's tracked boxes and the tracks that ended with it; ``raw`` is everything the
        detector found (carried items, for instance), for the describer."""
        self.writer.add(frame, tracked)
        if self.describer is not None:
            self.describer.observe(frame, tracked, raw if raw is not None else tracked)
        if finished:
            self.finish(finished, flush=False)
        if self.writer.due:
            self.flush()

    def finish(self, finished: list[FinishedTrack], flush: bool = True) -> None:
        """Finish and describe the ended tracks and hand them to the writer."""
        for track, summary in self.writer.ended(finished):
            done = self.finisher(track)
            if done is None and self._named_by_event(track.track_id):
                done = track  # too short to be an object, yet an alert shows it: keep it as seen
            if done is None:
                self.writer.drop(track.track_id)
                continue
            attributes = None
            if self.describer is not None and self.describe_queue is not None:
                self.jobs[track.track_id] = self.describer.detach(done, summary)
            elif self.describer is not None:
                attributes, vector = split_vector(self.describer.describe(done, summary))
                if vector is not None:
                    self.vectors[track.track_id] = vector
            self.writer.complete(track, done, summary, attributes)
        if flush:
            self.flush()

    def flush(self) -> None:
        """Write the pending rows with the finished tracks' index rows; then announce the finished
        tracks, or queue their descriptions (their rows are committed: the worker can update them)."""
        written = self.writer.flush(also=self._index)
        self._announce([w.db_id for w in written if w.tracker_id not in self.jobs])
        if self.describe_queue is None:
            self._retype()  # inline descriptions are all stored by now
        for track in written:
            job = self.jobs.pop(track.tracker_id, None)
            if job is not None and self.describe_queue is not None:
                deliver = self._deliverer(track)
                self.describe_queue.submit(self, self.writer.camera, job, deliver)

    def _named_by_event(self, tracker_id: int) -> bool:
        """Whether an event of this run names the track (events newer than the last look are read;
        only tracks the writer still holds are remembered)."""
        with self.writer.store.engine.connect() as conn:
            named, self.events_read = event_tracker_ids(conn, self.writer.run_id, self.events_read)
        self.named = (self.named | named) & self.writer.stored.keys()
        return tracker_id in self.named

    def _index(self, conn: Connection, written: list[WrittenTrack]) -> None:
        index_tracks(conn, self.writer.camera_id, [(w.db_id, w.values) for w in written])
        vectors = [(w.db_id, self.vectors.pop(w.tracker_id, None)) for w in written]
        store_vectors(conn, [(i, v) for i, v in vectors if v is not None])

    def _deliverer(self, track: WrittenTrack) -> Callable[[dict | None], None]:
        def described(attributes: dict | None) -> None:
            """Store a background description and re-index the track (in the describer's thread)."""
            attributes, vector = split_vector(attributes)
            now = WrittenTrack(track.tracker_id, track.db_id, {**track.values, "attributes": attributes})
            with self.writer.store.engine.begin() as conn:
                self.writer.store_attributes(conn, track.db_id, attributes)
                self._index(conn, [now])
                store_vectors(conn, [] if vector is None else [(track.db_id, vector)])
            self._announce([track.db_id])
            self._retype()  # in the describer's thread: no description of this stage is in flight

        return described

    def _announce(self, db_ids: list[int]) -> None:
        if not db_ids:
            return
        for observer in self.on_indexed:
            try:
                observer(db_ids)
            except Exception:  # an observer's failure never costs the tracks
                log.exception("camera %s: observer of finished tracks failed", self.writer.camera)

    def close(self) -> None:
        """Write what is left and wait (at most ``drain_timeout``) for this stage's descriptions."""
        self.flush()
        if self.describe_queue is None or self.describe_queue.drain(self, self.drain_timeout):
            self._retype(final=True)

    def _retype(self, final: bool = False) -> None:
        """Store and re-index what the describer now says differently of tracks it described
        before (its vehicles' types, against the cars seen since). Only the changed attributes
        and their index rows are rewritten: the tracks' image vectors stay as they are. Not
        announced again: standing searches judged each track when it was described."""
        changes = self.describer.retype(final) if self.describer is not None else {}
        if not changes:
            return
        cols = (tracks.c.id, tracks.c.tracker_id, tracks.c.class_name, tracks.c.first_ts, tracks.c.last_ts)
        q = select(*cols, tracks.c.score, tracks.c.attributes).where(
            tracks.c.run_id == self.writer.run_id, tracks.c.tracker_id.in_(list(changes))
        )
        with self.writer.store.engine.begin() as conn:
            items = []
            for row in conn.execute(q).all():
                old = row.attributes if isinstance(row.attributes, dict) else None
                new = None if old is None else {**old, **changes[row.tracker_id]}
                if new is not None and new != old:
                    self.writer.store_attributes(conn, row.id, new)
                    items.append((row.id, {**row._mapping, "attributes": new}))
            index_tracks(conn, self.writer.camera_id, items)
