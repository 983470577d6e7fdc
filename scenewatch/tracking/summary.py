"""Per-track summaries built up while tracks run: class, first/last seen, path, best thumbnail.

Feed every frame's tracked detections to ``SummaryBook.observe``; when the tracker reports a track
finished, ``pop`` its summary. The thumbnail is kept as a BGR crop; writing it is the store's job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from scenewatch.types import Detections


@dataclass(slots=True)
class TrackSummary:
    track_id: int
    first_time: float
    first_frame: int
    last_time: float = 0.0
    last_frame: int = 0
    detections: int = 0
    class_votes: Counter[int] = field(default_factory=Counter)
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (time, x, y) bottom-centre
    thumbnail: np.ndarray | None = None  # BGR crop of the best view
    thumbnail_quality: float = -1.0
    thumbnail_time: float = 0.0

    @property
    def class_id(self) -> int:
        """Majority class over the track's detections (weighted by score)."""
        return self.class_votes.most_common(1)[0][0] if self.class_votes else -1


def view_quality(dets: Detections, width: int, height: int, edge_margin: float = 2.0) -> np.ndarray:
    """[N] how good each box is as a thumbnail: confident, large, whole and unobstructed."""
    if len(dets) == 0:
        return np.zeros(0)
    xyxy = dets.xyxy.astype(np.float64)
    area = np.maximum(dets.areas.astype(np.float64), 1.0)
    # Fraction of each box covered by its most overlapping neighbour.
    top_left = np.maximum(xyxy[:, None, :2], xyxy[None, :, :2])
    bottom_right = np.minimum(xyxy[:, None, 2:], xyxy[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    np.fill_diagonal(inter, 0.0)
    covered = inter.max(axis=1) / area if len(dets) > 1 else np.zeros(1)
    touches = (
        (xyxy[:, 0] <= edge_margin)
        | (xyxy[:, 1] <= edge_margin)
        | (xyxy[:, 2] >= width - edge_margin)
        | (xyxy[:, 3] >= height - edge_margin)
    )
    # sqrt(area): size matters, but less than being fully visible.
    return dets.scores * np.sqrt(area) * (1.0 - covered) ** 2 * np.where(touches, 0.3, 1.0)


class SummaryBook:
    """Summaries of the running tracks, keyed by track id."""

    def __init__(self, path_interval: float = 0.5, path_step: float = 0.25, pad: float = 0.1):
        self.path_interval = path_interval  # seconds between path points at most ...
        self.path_step = path_step  # ... or sooner once the object moved this many box heights
        self.pad = pad  # fraction of the box added on each side of the thumbnail
        self.running: dict[int, TrackSummary] = {}
        self._last: dict[int, tuple[float, float, float]] = {}

    def observe(self, tracked: Detections, image: np.ndarray, timestamp: float, frame_index: int) -> None:
        """Add one frame's tracked detections (``track_ids`` set) and the BGR frame they came from."""
        height, width = image.shape[:2]
        quality = view_quality(tracked, width, height)
        feet = tracked.bottom_centre
        box_h = tracked.xyxy[:, 3] - tracked.xyxy[:, 1]
        for i, track_id in enumerate(tracked.track_ids.tolist()):
            s = self.running.get(track_id)
            if s is None:
                s = self.running[track_id] = TrackSummary(track_id, timestamp, frame_index)
            s.last_time, s.last_frame = timestamp, frame_index
            s.detections += 1
            s.class_votes[int(tracked.class_ids[i])] += 1
            point = (timestamp, float(feet[i, 0]), float(feet[i, 1]))
            self._last[track_id] = point
            if not s.path or self._worth_a_point(s.path[-1], point, float(box_h[i])):
                s.path.append(point)
            if quality[i] > s.thumbnail_quality:
                s.thumbnail = self._crop(image, tracked.xyxy[i])
                s.thumbnail_quality, s.thumbnail_time = float(quality[i]), timestamp

    def pop(self, track_ids: Iterable[int]) -> list[TrackSummary]:
        """Finished summaries (the path ends at the last sighting); ids never observed are skipped."""
        done = []
        for track_id in track_ids:
            s = self.running.pop(track_id, None)
            last = self._last.pop(track_id, None)
            if s is None:
                continue
            if last is not None and s.path[-1] != last:
                s.path.append(last)
            done.append(s)
        return done

    def _worth_a_point(
        self, prev: tuple[float, float, float], point: tuple[float, float, float], h: float
    ) -> bool:
        moved = np.hypot(point[1] - prev[1], point[2] - prev[2])
        return point[0] - prev[0] >= self.path_interval or moved >= self.path_step * max(h, 1.0)

    def _crop(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        x1, y1, x2, y2 = box.astype(np.float64)
        px, py = self.pad * (x2 - x1), self.pad * (y2 - y1)
        left, top = int(max(x1 - px, 0)), int(max(y1 - py, 0))
        right, bottom = int(min(x2 + px, width)), int(min(y2 + py, height))
        return image[top:bottom, left:right].copy()
