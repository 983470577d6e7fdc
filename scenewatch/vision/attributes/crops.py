"""The few best, mutually distinct views of each running track, kept for describing it once.

Attributes are computed from these crops when the track ends, not on every frame: pose and
colour work is then bounded per track, however long it stays in view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenewatch.tracking.summary import view_quality
from scenewatch.types import Detections, Frame
from scenewatch.vision.colours import scene_lightness


@dataclass(slots=True)
class Crop:
    """One view: ``image`` BGR with some context, ``box`` the object in the crop's pixels."""

    image: np.ndarray
    box: np.ndarray  # xyxy float32 in crop pixels
    frame: int
    time: float
    quality: float
    lightness: float  # bright level around the object: the colour namer's shadow reference


def crop_around(image: np.ndarray, box: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """The box grown by ``pad`` of its size on each side (clipped), and the box in crop pixels."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    px, py = pad * (x2 - x1), pad * (y2 - y1)
    left, top = int(max(x1 - px, 0)), int(max(y1 - py, 0))
    right, bottom = int(min(np.ceil(x2 + px), width)), int(min(np.ceil(y2 + py), height))
    inner = np.array([x1 - left, y1 - top, x2 - left, y2 - top], dtype=np.float32)
    return image[top:bottom, left:right].copy(), inner


class CropBook:
    """Up to ``k`` best views per track, at least ``min_gap_s`` apart (so not three near-copies)."""

    def __init__(self, k: int = 3, min_gap_s: float = 1.0, pad: float = 0.15):
        self.k = k
        self.min_gap_s = min_gap_s
        self.pad = pad
        self.kept: dict[int, list[Crop]] = {}

    def observe(self, frame: Frame, tracked: Detections) -> None:
        if len(tracked) == 0:
            return
        quality = view_quality(tracked, frame.width, frame.height)
        for i, track_id in enumerate(tracked.track_ids.tolist()):
            kept = self.kept.setdefault(track_id, [])
            slot = self._slot(kept, float(quality[i]), frame.timestamp)
            if slot is None:
                continue
            crop = self._make(frame, tracked.xyxy[i], float(quality[i]))
            if slot < len(kept):
                kept[slot] = crop
            else:
                kept.append(crop)

    def _slot(self, kept: list[Crop], quality: float, time: float) -> int | None:
        """Where a new view goes: replacing a close-in-time worse one, a free place, or the worst."""
        close = [i for i, c in enumerate(kept) if abs(c.time - time) < self.min_gap_s]
        if close:
            i = close[0]
            return i if quality > kept[i].quality else None
        if len(kept) < self.k:
            return len(kept)
        worst = min(range(len(kept)), key=lambda i: kept[i].quality)
        return worst if quality > kept[worst].quality else None

    def _make(self, frame: Frame, box: np.ndarray, quality: float) -> Crop:
        image, inner = crop_around(frame.image, box, self.pad)
        # Illumination around the object (a box-sized margin): a person in shade gets shade's level.
        context, _ = crop_around(frame.image, box, 1.0)
        return Crop(image, inner, frame.index, frame.timestamp, quality, scene_lightness(context))

    def pop(self, track_id: int) -> list[Crop]:
        """The kept views of a track, best first (forgotten here)."""
        return sorted(self.kept.pop(track_id, []), key=lambda c: -c.quality)

    def discard(self, keep: set[int]) -> None:
        """Forget tracks not in ``keep`` (ones the writer never finished, e.g. tentative)."""
        for track_id in set(self.kept) - keep:
            del self.kept[track_id]
