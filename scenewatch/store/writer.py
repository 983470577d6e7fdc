"""Writes tracks and their per-frame boxes as they happen, one transaction per second at most.

A crash or kill loses at most the last ``flush_interval`` of results; SQLite in WAL mode keeps the
database itself consistent. When a track ends, its record is completed from the tracker's full
history (boxes from before the track was confirmed) and its best thumbnail is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import bindparam, insert, update

from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes, tracks
from scenewatch.tracking.tracker import FinishedTrack
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_name

PATH_STEP_S = 0.5  # one path point per half second is enough to draw and to search by
THUMB_PAD = 0.08  # context around the box in a thumbnail, as a fraction of its size


@dataclass
class _Track:
    db_id: int | None
    first_ts: float
    first_frame: int
    last_ts: float = 0.0
    last_frame: int = 0
    detections: int = 0
    score_sum: float = 0.0
    votes: dict[int, float] = field(default_factory=dict)
    path: list[tuple[float, float, float]] = field(default_factory=list)
    written_frames: set[int] = field(default_factory=set)
    thumb_quality: float = -1.0
    thumb: np.ndarray | None = None
    thumb_dirty: bool = False
    dirty: bool = True
    finished: bool = False

    @property
    def class_id(self) -> int:
        return max(self.votes, key=self.votes.__getitem__)


class TrackWriter:
    def __init__(
        self, store: DataStore, camera: str, camera_id: int, run_id: int, flush_interval: float = 1.0
    ):
        self.store = store
        self.camera = camera
        self.camera_id = camera_id
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.tracks: dict[int, _Track] = {}
        self.pending_boxes: list[dict] = []
        self.last_flush = time.monotonic()
        self.tracks_started = 0

    def add(self, frame: Frame, tracked: Detections, finished: list[FinishedTrack]) -> None:
        """Record one frame's tracked boxes and the tracks that ended with it."""
        quality = _thumbnail_quality(tracked, frame.width, frame.height)
        for row in range(len(tracked)):
            self._observe(frame, tracked, row, quality[row])
        if finished:
            self.finish(finished, flush=False)
        if time.monotonic() - self.last_flush >= self.flush_interval:
            self.flush()

    def _observe(self, frame: Frame, tracked: Detections, row: int, quality: float) -> None:
        tracker_id = int(tracked.track_ids[row])
        track = self.tracks.get(tracker_id)
        if track is None:
            track = self.tracks[tracker_id] = _Track(None, frame.timestamp, frame.index)
            self.tracks_started += 1
        x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[row])
        score = float(tracked.scores[row])
        track.last_ts, track.last_frame = frame.timestamp, frame.index
        track.detections += 1
        track.score_sum += score
        cls = int(tracked.class_ids[row])
        track.votes[cls] = track.votes.get(cls, 0.0) + score
        if not track.path or frame.timestamp - track.path[-1][0] >= PATH_STEP_S:
            track.path.append((frame.timestamp, (x1 + x2) / 2, y2))
        if quality > track.thumb_quality:
            track.thumb_quality = quality
            track.thumb = _crop(frame.image, x1, y1, x2, y2)
            track.thumb_dirty = True
        track.dirty = True
        track.written_frames.add(frame.index)
        self.pending_boxes.append(
            {
                "tracker_id": tracker_id,
                "frame": frame.index,
                "ts": frame.timestamp,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "score": score,
                "interpolated": False,
            }
        )

    def finish(self, finished: list[FinishedTrack], flush: bool = True) -> None:
        """Complete ended tracks from the tracker's history and mark them finished."""
        for done in finished:
            track = self.tracks.get(done.track_id)
            if track is None:
                continue
            # Observations from before the track was confirmed were never output per frame.
            for k in np.flatnonzero(~np.isin(done.frame_indices, list(track.written_frames))):
                x1, y1, x2, y2 = (float(v) for v in done.xyxy[k])
                self.pending_boxes.append(
                    {
                        "tracker_id": done.track_id,
                        "frame": int(done.frame_indices[k]),
                        "ts": float(done.times[k]),
                        "x1": x1,
                        "y1": y1,
                        "x2": x2,
                        "y2": y2,
                        "score": float(done.scores[k]),
                        "interpolated": False,
                    }
                )
                track.detections += 1
                track.score_sum += float(done.scores[k])
            if len(done.times):
                track.first_ts = min(track.first_ts, float(done.times[0]))
                track.first_frame = min(track.first_frame, int(done.frame_indices[0]))
            track.finished = True
            track.dirty = True
        if flush:
            self.flush()

    def flush(self) -> None:
        """One transaction: new tracks, changed tracks, new boxes; then the improved thumbnails."""
        self.last_flush = time.monotonic()
        if not self.pending_boxes and not any(t.dirty for t in self.tracks.values()):
            return
        with self.store.engine.begin() as conn:
            for tracker_id, track in self.tracks.items():
                if track.db_id is None:
                    track.db_id = conn.execute(
                        insert(tracks)
                        .values(
                            camera_id=self.camera_id,
                            run_id=self.run_id,
                            tracker_id=tracker_id,
                            **self._track_values(track),
                        )
                        .returning(tracks.c.id)
                    ).scalar_one()
                    track.dirty = False
            changed = [{"_id": t.db_id, **self._track_values(t)} for t in self.tracks.values() if t.dirty]
            if changed:
                conn.execute(update(tracks).where(tracks.c.id == bindparam("_id")), changed)
            if self.pending_boxes:
                rows = [
                    {
                        **{k: v for k, v in b.items() if k != "tracker_id"},
                        "track_id": self.tracks[b["tracker_id"]].db_id,
                    }
                    for b in self.pending_boxes
                ]
                conn.execute(insert(boxes), rows)
        self.pending_boxes.clear()
        for track in self.tracks.values():
            track.dirty = False
        self._write_thumbnails()
        # Finished tracks are complete in the database; keep memory bounded on endless streams.
        for tracker_id in [i for i, t in self.tracks.items() if t.finished]:
            del self.tracks[tracker_id]

    def _track_values(self, track: _Track) -> dict:
        return {
            "class_name": class_name(track.class_id),
            "first_ts": track.first_ts,
            "last_ts": track.last_ts,
            "first_frame": track.first_frame,
            "last_frame": track.last_frame,
            "detections": track.detections,
            "score": track.score_sum / max(track.detections, 1),
            "path": [[round(t, 3), round(x, 1), round(y, 1)] for t, x, y in track.path],
            "thumbnail": self.store.media.thumbnail_path(self.camera, track.db_id)
            if track.thumb is not None and track.db_id is not None
            else None,
            "finished": track.finished,
        }

    def _write_thumbnails(self) -> None:
        for track in self.tracks.values():
            if track.thumb_dirty and track.thumb is not None and track.db_id is not None:
                self.store.media.write_jpeg(
                    self.store.media.thumbnail_path(self.camera, track.db_id), track.thumb
                )
                track.thumb_dirty = False

    def close(self) -> None:
        self.flush()


def _thumbnail_quality(tracked: Detections, width: int, height: int) -> np.ndarray:
    """Prefer large, confident, whole (not cut by the frame edge), unoccluded views."""
    if len(tracked) == 0:
        return np.zeros(0)
    xyxy = tracked.xyxy
    size = np.sqrt(tracked.areas)
    margin = 2.0
    whole = (
        (xyxy[:, 0] > margin)
        & (xyxy[:, 1] > margin)
        & (xyxy[:, 2] < width - margin)
        & (xyxy[:, 3] < height - margin)
    )
    # Fraction of each box covered by any other box: a crude occlusion measure.
    x1 = np.maximum(xyxy[:, None, 0], xyxy[None, :, 0])
    y1 = np.maximum(xyxy[:, None, 1], xyxy[None, :, 1])
    x2 = np.minimum(xyxy[:, None, 2], xyxy[None, :, 2])
    y2 = np.minimum(xyxy[:, None, 3], xyxy[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    np.fill_diagonal(inter, 0)
    covered = inter.max(axis=1) / np.maximum(tracked.areas, 1.0)
    return tracked.scores * size * np.where(whole, 1.0, 0.5) * (1.0 - np.clip(covered, 0, 0.9))


def _crop(image: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    pad_x, pad_y = (x2 - x1) * THUMB_PAD, (y2 - y1) * THUMB_PAD
    h, w = image.shape[:2]
    left, top = int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y))
    right, bottom = int(min(w, x2 + pad_x + 1)), int(min(h, y2 + pad_y + 1))
    return image[top:bottom, left:right].copy()
